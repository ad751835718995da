// Copy buttons: shown only when this script runs; the page works without it
// (the password is plain, selectable text).
document.querySelectorAll('button[data-copy]').forEach(function (button) {
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) { return; }
  button.hidden = false;
  button.addEventListener('click', function () {
    var text = source.textContent.trim();
    var done = function () { button.textContent = 'Copied'; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (document.execCommand('copy')) { done(); }
  });
});
