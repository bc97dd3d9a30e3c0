// Yoyaku console: small progressive enhancements. Every page works without
// this file; it adds the phone menu toggle, keyboard shortcuts ("/" focuses
// search, "g t" goes to Today, "g c" to the calendar), confirmation of
// destructive actions and focus on the first field in error.
(function () {
  'use strict';
  var toggle = document.querySelector('.nav-toggle');
  var nav = document.getElementById('nav');
  if (toggle && nav) {
    toggle.addEventListener('click', function () {
      var open = nav.classList.toggle('open');
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    });
  }
  document.querySelectorAll('form[data-confirm]').forEach(function (f) {
    f.addEventListener('submit', function (e) {
      if (!window.confirm(f.getAttribute('data-confirm'))) { e.preventDefault(); }
    });
  });
  var invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) { invalid.focus(); }
  var pending = '';
  document.addEventListener('keydown', function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) { return; }
    if (e.key === '/') {
      var s = document.querySelector('input[type=search], input[name=q]');
      if (s) { e.preventDefault(); s.focus(); }
      return;
    }
    if (pending === 'g') {
      pending = '';
      var link = document.querySelector('nav#nav a[data-key="' + e.key + '"]');
      if (link) { window.location.href = link.href; }
      return;
    }
    if (e.key === 'g') { pending = 'g'; window.setTimeout(function () { pending = ''; }, 1500); }
  });
})();
