// Booking site: small progressive enhancements. Every page works without
// this file: links navigate and forms post.
//
// - The calendar's months, days and provider choice load in place (the
//   same page, fetched and swapped into #book-when) instead of a full
//   reload; the grid always has six weeks, so nothing below it jumps.
// - A confirmation form is sent once: the button is disabled on submit
//   (the server books once anyway: the form carries an idempotency key).

const region = () => document.getElementById("book-when");

async function load(url, push) {
  const box = region();
  if (!box) { location.href = url; return; }
  box.setAttribute("aria-busy", "true");
  try {
    const res = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!res.ok) throw new Error(String(res.status));
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const next = doc.getElementById("book-when");
    if (!next) throw new Error("no calendar");
    box.replaceWith(next);
    if (push) history.pushState({ when: true }, "", url);
    const focus = next.querySelector(".book-day h2") || next.querySelector("#cal-title");
    if (focus && url.includes("date=")) { focus.tabIndex = -1; focus.focus({ preventScroll: false }); }
  } catch (_) {
    location.href = url; // fall back to the plain page
  } finally {
    const b = region();
    if (b) b.removeAttribute("aria-busy");
  }
}

document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("#book-when a[data-cal]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  load(a.href, true);
});

window.addEventListener("popstate", () => { if (region()) load(location.href, false); });

document.addEventListener("submit", (e) => {
  const form = e.target;
  if (!form.matches || !form.matches("form[data-once]")) return;
  if (form.dataset.sent) { e.preventDefault(); return; }
  form.dataset.sent = "1";
  // Disable after the browser has taken the submitter's name and value.
  setTimeout(() => form.querySelectorAll("button").forEach((b) => { b.disabled = true; }), 0);
});

// Back to a confirmation page from the browser's cache: send it again.
window.addEventListener("pageshow", (e) => {
  if (!e.persisted) return;
  document.querySelectorAll("form[data-once]").forEach((f) => {
    delete f.dataset.sent;
    f.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  });
});
