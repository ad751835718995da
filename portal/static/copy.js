// Copy buttons: shown only when this script runs; the page works without it
// (the password field is selectable).
document.querySelectorAll('button[data-copy]').forEach(function (button) {
  var field = document.getElementById(button.getAttribute('data-copy'));
  if (!field) { return; }
  button.hidden = false;
  button.addEventListener('click', function () {
    var done = function () { button.textContent = 'Copied'; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else {
      field.select();
      if (document.execCommand('copy')) { done(); }
    }
  });
});
