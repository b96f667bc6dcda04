// Controls that only a page's module makes work are disabled in the HTML and marked `data-needs-script`:
// a click or a submit that lands before the module has run then waits (a native submit would reload the
// page and lose what was typed). The module calls scriptReady() once its handlers are attached.
export function scriptReady(root = document) {
  for (const control of root.querySelectorAll("[data-needs-script]")) control.disabled = false;
}
