// The gallery's light/dark switch: restyles the page and shows each email in the chosen scheme
// (the email's dark variant has its dark-mode rules applied unconditionally).
(function () {
  var root = document.documentElement;
  function stored() {
    try { return localStorage.getItem("gallery-scheme"); } catch (e) { return null; }
  }
  function apply(scheme) {
    root.setAttribute("data-scheme", scheme);
    document.querySelectorAll("iframe[data-light]").forEach(function (frame) {
      var src = frame.getAttribute(scheme === "dark" ? "data-dark" : "data-light");
      if (frame.getAttribute("src") !== src) { frame.setAttribute("src", src); }
    });
    document.querySelectorAll("[data-scheme-choice]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-scheme-choice") === scheme));
    });
  }
  document.querySelectorAll("[data-scheme-choice]").forEach(function (button) {
    button.addEventListener("click", function () {
      var scheme = button.getAttribute("data-scheme-choice");
      try { localStorage.setItem("gallery-scheme", scheme); } catch (e) { /* file:// may forbid it */ }
      apply(scheme);
    });
  });
  var system = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  apply(stored() || system);
})();
