"""The JSON API: bases are created, listed, renamed and deleted; uploads are validated by content before
anything is stored, with a message that names the problem; text and URL sources are checked up front."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import Job
from knowledge import services
from knowledge.models import KnowledgeBase, Source
from tests.fixtures.knowledge import docx_bytes, pdf_bytes, stored_files

pytestmark = [pytest.mark.django_db(transaction=True)]


def upload(client, kb_id: int, *files: tuple[str, bytes]):
    payload = {"file": [SimpleUploadedFile(name, data) for name, data in files]}
    return client.post(f"/knowledge/api/bases/{kb_id}/sources", payload)


def test_bases_are_created_listed_renamed_and_deleted(alice_client):
    created = alice_client.post(
        "/knowledge/api/bases", {"name": " Field  notes ", "description": "birds"}, content_type="application/json"
    )
    assert created.status_code == 201
    base = created.json()["base"]
    assert base["name"] == "Field notes" and base["source_count"] == 0 and base["chunk_count"] == 0
    listed = alice_client.get("/knowledge/api/bases").json()["bases"]
    assert [b["id"] for b in listed] == [base["id"]]
    patched = alice_client.patch(
        f"/knowledge/api/bases/{base['id']}", {"name": "Birds"}, content_type="application/json"
    )
    assert patched.json()["base"]["name"] == "Birds" and patched.json()["base"]["description"] == "birds"
    assert alice_client.get(f"/knowledge/api/bases/{base['id']}").json()["base"]["name"] == "Birds"
    assert alice_client.delete(f"/knowledge/api/bases/{base['id']}").status_code == 204
    assert not KnowledgeBase.objects.exists()
    assert alice_client.get(f"/knowledge/api/bases/{base['id']}").status_code == 404


def test_bad_base_input_names_the_field(alice_client):
    for body, expected in [
        ({}, "name:"),
        ({"name": "x" * 101}, "at most 100"),
        ({"name": "ok", "description": 5}, "description:"),
    ]:
        response = alice_client.post("/knowledge/api/bases", body, content_type="application/json")
        assert response.status_code == 400 and expected in response.json()["error"], response.json()
    assert alice_client.post("/knowledge/api/bases", "nope", content_type="application/json").status_code == 400


def test_files_of_every_type_are_stored_under_generated_names_and_queued(alice_client, kb):
    response = upload(
        alice_client,
        kb.pk,
        ("notes.txt", b"Plain notes."),
        ("guide.md", b"# Guide\n\nText."),
        ("page.html", b"<html><body><p>Hi</p></body></html>"),
        ("paper.pdf", pdf_bytes(["A line."])),
        ("letter.docx", docx_bytes([("p", "Dear reader.")])),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    mimes = [s["mime"] for s in body["sources"]]
    assert mimes == [
        "text/plain",
        "text/markdown",
        "text/html",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]
    assert len(body["jobs"]) == 5 and all(body["jobs"])
    assert {j.kind for j in Job.objects.all()} == {"knowledge.ingest"}
    assert [s["status"] for s in body["sources"]] == ["pending"] * 5
    names = [p.name for p in stored_files()]
    assert len(names) == 5 and all(len(n.split(".")[0]) == 32 for n in names)
    assert {n.split(".")[1] for n in names} == {"txt", "md", "html", "pdf", "docx"}
    listed = alice_client.get(f"/knowledge/api/bases/{kb.pk}/sources").json()["sources"]
    assert sorted(s["original_name"] for s in listed) == [
        "guide.md",
        "letter.docx",
        "notes.txt",
        "page.html",
        "paper.pdf",
    ]


def test_a_path_traversal_name_is_only_a_display_name(alice_client, kb, settings):
    response = upload(alice_client, kb.pk, ("../../../../etc/passwd", b"root:x:0:0"))
    assert response.status_code == 201
    source = Source.objects.get()
    assert source.original_name == "passwd" and source.title == "passwd"
    (stored,) = stored_files()
    assert stored.parent.name == str(kb.pk) and stored.name == source.stored_name
    assert stored.name.endswith(".txt") and "passwd" not in stored.name


def _bomb() -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
        zf.writestr("word/document.xml", b"\x00" * 50_000_000)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "report.pdf",
            b"\x7fELF\x02\x01\x01" + b"\x00" * 200,
            "report.pdf is named .pdf but its content is an ELF executable",
        ),
        ("setup.pdf", b"MZ\x90\x00" + b"\x00" * 200, "setup.pdf is named .pdf but its content is a Windows executable"),
        (
            "tool.txt",
            b"\x7fELF\x02\x01\x01" + b"\x00" * 200,
            "tool.txt is not a supported file: found an ELF executable",
        ),
        ("bomb.docx", "bomb", "bomb.docx was refused"),
        ("empty.txt", b"", "empty.txt is empty"),
    ],
)
def test_malicious_uploads_are_refused_and_nothing_is_stored(alice_client, kb, name, data, message):
    data = _bomb() if data == "bomb" else data
    response = upload(alice_client, kb.pk, (name, data))
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Source.objects.exists() and not Job.objects.exists() and stored_files() == []


def test_a_file_over_the_size_cap_is_refused_with_the_cap_in_the_message(alice_client, kb, settings):
    settings.KNOWLEDGE_MAX_UPLOAD_MB = 1
    response = upload(alice_client, kb.pk, ("big.txt", b"a" * (1024 * 1024 + 10)))
    assert response.status_code == 400
    assert response.json()["error"] == "big.txt is larger than 1 MB"
    assert not Source.objects.exists() and stored_files() == []
    ok = upload(alice_client, kb.pk, ("fits.txt", b"a " * 500_000))
    assert ok.status_code == 201


def test_one_bad_file_refuses_the_whole_upload(alice_client, kb):
    response = upload(alice_client, kb.pk, ("good.txt", b"fine"), ("bad.docx", b"MZ\x90\x00" + b"\x00" * 50))
    assert response.status_code == 400 and "bad.docx" in response.json()["error"]
    assert not Source.objects.exists() and stored_files() == []


def test_text_and_url_sources_are_checked_before_queuing(alice_client, kb):
    url = f"/knowledge/api/bases/{kb.pk}/sources"
    text = alice_client.post(
        url, {"kind": "text", "title": "Memo", "text": "Remember the milk."}, content_type="application/json"
    )
    assert text.status_code == 201 and text.json()["source"]["title"] == "Memo" and text.json()["job_id"]
    page = alice_client.post(url, {"kind": "url", "url": "https://example.com/a"}, content_type="application/json")
    assert page.status_code == 201 and page.json()["source"]["kind"] == "url"
    assert Job.objects.get(pk=page.json()["job_id"]).kind == "knowledge.ingest_url"
    for body, expected in [
        ({"kind": "text", "text": "  "}, "text:"),
        ({"kind": "url", "url": "file:///etc/passwd"}, "only http:// and https://"),
        ({"kind": "url"}, "url:"),
        ({"kind": "pdf"}, "kind:"),
    ]:
        response = alice_client.post(url, body, content_type="application/json")
        assert response.status_code == 400 and expected in response.json()["error"], body
    assert Source.objects.count() == 2


def test_only_web_pages_can_be_rescraped(alice_client, kb):
    text = alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/sources", {"kind": "text", "text": "x"}, content_type="application/json"
    ).json()["source"]
    response = alice_client.post(f"/knowledge/api/sources/{text['id']}/rescrape")
    assert response.status_code == 409 and "only web page sources" in response.json()["error"]


def test_search_parameters_are_checked(alice_client, kb):
    assert "q:" in alice_client.get(f"/knowledge/api/bases/{kb.pk}/search").json()["error"]
    assert "k:" in alice_client.get(f"/knowledge/api/bases/{kb.pk}/search?q=x&k=0").json()["error"]
    assert "k:" in alice_client.get(f"/knowledge/api/bases/{kb.pk}/search?q=x&k=many").json()["error"]
    assert "kb:" in alice_client.get("/knowledge/api/search?q=x&kb=one").json()["error"]
    assert alice_client.get(f"/knowledge/api/bases/{kb.pk}/search?q=nothing").json()["hits"] == []


def test_pages_render_for_the_owner(alice_client, kb):
    assert alice_client.get("/knowledge/").status_code == 200
    assert alice_client.get(f"/knowledge/{kb.pk}/").status_code == 200
    source = alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/sources", {"kind": "text", "text": "x"}, content_type="application/json"
    ).json()["source"]
    assert alice_client.get(f"/knowledge/{kb.pk}/sources/{source['id']}/").status_code == 200


def test_server_rendered_rows_name_their_source(alice_client, kb):
    """A delete clicked before the page's script has loaded the list still names the source."""
    alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/sources",
        {"kind": "text", "title": "Memo <b>x</b>", "text": "x"},
        content_type="application/json",
    )
    html = alice_client.get(f"/knowledge/{kb.pk}/").content.decode()
    assert 'data-name="Memo &lt;b&gt;x&lt;/b&gt;"' in html


def test_the_api_wants_a_login(client, kb):
    assert client.get("/knowledge/api/bases").status_code == 401
    assert client.post(f"/knowledge/api/bases/{kb.pk}/sources", {"kind": "text", "text": "x"}).status_code == 401


def test_the_admin_shows_bases_sources_and_read_only_chunks(client, django_user_model, alice, kb):
    from knowledge.models import Chunk

    source = services.source_add_text(user=alice, kb=kb, title="Memo", text="Hello there.")
    chunk = Chunk.objects.create(source=source, kb=kb, index=0, text="Hello there.", token_count=3)
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123"))
    for url in [
        "/admin/knowledge/knowledgebase/",
        f"/admin/knowledge/knowledgebase/{kb.pk}/change/",
        "/admin/knowledge/source/",
        f"/admin/knowledge/source/{source.pk}/change/",
        "/admin/knowledge/chunk/",
        f"/admin/knowledge/chunk/{chunk.pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/knowledge/chunk/add/").status_code == 403
