"""The JavaScript the scraper runs in result pages (through ``execute_script``).

Every script gets the adapter's thumbnail selector, URL attributes and placeholder
prefixes as its first three arguments.  Thumbnails are marked with data attributes:
``data-scened-taken`` once their URL was read, ``data-scened-tries`` for the times they
were scrolled into view while still a placeholder, ``data-scened-skipped`` when they
never loaded.
"""

from __future__ import annotations

# Is the thumbnail showing a real image (not empty, not a lazy-loading placeholder)?
_REAL_URL = """
const [selector, attributes, placeholders] = arguments;
const isReal = (value) => value && !placeholders.some((prefix) => value.startsWith(prefix));
const realUrl = (element) => {
  for (const name of attributes) {
    const value = (element.getAttribute(name) || "").trim();
    if (isReal(value)) return [name, value];
  }
  return null;
};
"""

# [attribute, value] of each real, not yet taken thumbnail, which it marks taken; with
# arguments[3] true it only counts them.
HARVEST = (
    _REAL_URL
    + """
const countOnly = arguments[3];
const found = [];
for (const element of document.querySelectorAll(selector)) {
  if (element.hasAttribute("data-scened-taken")) continue;
  const real = realUrl(element);
  if (!real) continue;
  if (!countOnly) element.setAttribute("data-scened-taken", "");
  found.push(real);
}
return countOnly ? found.length : found;
"""
)

# Scrolls the first thumbnail still showing a placeholder into view, so that a lazy
# loader gives it its image; true if there was one.  Invisible thumbnails, and those
# that stay placeholders after arguments[3] tries, are skipped for good.
SHOW_NEXT_PLACEHOLDER = (
    _REAL_URL
    + """
const maxTries = arguments[3];
for (const element of document.querySelectorAll(selector)) {
  if (element.hasAttribute("data-scened-taken") || element.hasAttribute("data-scened-skipped")) {
    continue;
  }
  if (realUrl(element)) continue;
  const box = element.getBoundingClientRect();
  const tries = Number(element.getAttribute("data-scened-tries") || "0");
  if (box.width === 0 || box.height === 0 || tries >= maxTries) {
    element.setAttribute("data-scened-skipped", "");
    continue;
  }
  element.setAttribute("data-scened-tries", String(tries + 1));
  element.scrollIntoView({block: "center"});
  return true;
}
return false;
"""
)

# Scrolls to the bottom of the page (where infinite scroll loads more); true if it moved.
SCROLL_TO_BOTTOM = """
const before = window.scrollY;
window.scrollTo(0, document.documentElement.scrollHeight);
return window.scrollY > before;
"""

PAGE_HEIGHT = "return document.documentElement.scrollHeight;"
