// "Download PNG" for an inline SVG plot: <button data-png-of="ID" data-png-name="file.png">. The SVG is drawn onto a
// canvas at twice its size in the browser (no server round trip, nothing leaves the machine).
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-png-of]");
    if (!button) return;
    var svg = document.querySelector("#" + button.dataset.pngOf + " svg");
    if (!svg) return;
    var width = svg.viewBox.baseVal.width, height = svg.viewBox.baseVal.height;
    var image = new Image();
    image.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = width * 2; canvas.height = height * 2;
      var context = canvas.getContext("2d");
      context.scale(2, 2);
      context.drawImage(image, 0, 0, width, height);
      var link = document.createElement("a");
      link.download = button.dataset.pngName || "plot.png";
      link.href = canvas.toDataURL("image/png");
      document.body.appendChild(link); link.click(); link.remove();
    };
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(svg));
  });
})();
