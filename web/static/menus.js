// Yoyaku console, menu form: "add a row" buttons for options and questions.
// Without this file the form still offers two empty rows of each; rows are
// sent as parallel arrays, so a copy of the last row needs no renumbering.
(function () {
  'use strict';
  document.querySelectorAll('button[data-add-row]').forEach(function (btn) {
    var rows = document.querySelector('[data-rows="' + btn.getAttribute('data-add-row') + '"]');
    if (!rows || btn.closest('fieldset[disabled]')) { return; }
    btn.hidden = false;
    btn.addEventListener('click', function () {
      var all = rows.querySelectorAll('[data-row]');
      var last = all[all.length - 1];
      if (!last) { return; }
      var row = last.cloneNode(true);
      var n = all.length;
      row.querySelectorAll('.field-error').forEach(function (e) { e.remove(); });
      row.querySelectorAll('[id]').forEach(function (e) { e.id = e.id.replace(/-\d+-/, '-' + n + '-'); });
      row.querySelectorAll('label[for]').forEach(function (e) { e.htmlFor = e.htmlFor.replace(/-\d+-/, '-' + n + '-'); });
      row.querySelectorAll('input, textarea, select').forEach(function (e) {
        e.removeAttribute('aria-invalid');
        e.removeAttribute('aria-describedby');
        if (e.tagName !== 'SELECT') { e.value = ''; }
      });
      rows.appendChild(row);
      var first = row.querySelector('input[type=text]');
      if (first) { first.focus(); }
    });
  });
})();
