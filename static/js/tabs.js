/*
 * A tab list (WAI-ARIA tabs): click or arrow keys select, Home/End jump, the selected tab is the
 * only one in the tab order, and each tab shows the panel its aria-controls names.
 *
 *   import { initTabs } from "kit/tabs";
 *   const tabs = initTabs(root.querySelector('[role="tablist"]'), { onSelect: (tab) => … });
 *   tabs.select(document.getElementById("tab-automate"));
 */

export function initTabs(list, { onSelect = null } = {}) {
  const tabs = [...list.querySelectorAll('[role="tab"]')];

  function select(tab, { focus = false } = {}) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    }
    if (focus) tab.focus();
    if (onSelect) onSelect(tab);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select(tabs[(next + tabs.length) % tabs.length], { focus: true });
    });
  }
  return { tabs, select, selected: () => tabs.find((tab) => tab.getAttribute("aria-selected") === "true") };
}
