// Shows upload progress on forms that carry a <progress data-upload-progress> element.
// htmx reports the browser's upload progress on the form that sent the request.
document.addEventListener("htmx:xhr:progress", function (event) {
  var bar = event.target.querySelector && event.target.querySelector("[data-upload-progress]");
  if (!bar || !event.detail.lengthComputable) return;
  bar.hidden = false;
  bar.max = event.detail.total;
  bar.value = event.detail.loaded;
  var label = event.target.querySelector("[data-upload-percent]");
  if (label) label.textContent = Math.round(100 * event.detail.loaded / event.detail.total) + "%";
});
