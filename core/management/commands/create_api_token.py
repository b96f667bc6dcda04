from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.services import TokenError, api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME; the token is printed alone on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the token is for.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            created = api_token_create(user=user, name=name)
        except TokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created token {created.token.name!r} for {username}. It is shown only once:")
        self.stdout.write(created.secret)
