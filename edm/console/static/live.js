// The Today page's sending progress without a reload: every few seconds, while the tab is visible,
// fetch the outbox fragment (same origin, the session cookie) and swap it in. Without scripts the
// page shows the figures as of its loading, and a refresh link.
(function () {
  "use strict";
  var box = document.querySelector("[data-live]");
  if (!box) {
    return;
  }
  var every = 5000;
  var timer = null;
  var busy = false;

  function stop() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  }

  function later() {
    stop();
    if (document.visibilityState === "visible") {
      timer = setTimeout(load, every);
    }
  }

  function swap(html) {
    var focused = box.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    var fresh = new DOMParser().parseFromString(html, "text/html").body;
    box.replaceChildren.apply(box, Array.prototype.slice.call(fresh.childNodes));
    if (focused !== null) {  // keep the keyboard's place across the swap
      var same = box.querySelector('a[href="' + CSS.escape(focused) + '"]');
      if (same) {
        same.focus();
      }
    }
  }

  function load() {
    stop();
    if (busy) {
      return;
    }
    busy = true;
    fetch(box.getAttribute("data-live"), {credentials: "same-origin", cache: "no-store", redirect: "manual"})
      .then(function (response) {
        if (response.status !== 200) {  // signed out (a redirect) or failing: stop, the link remains
          throw new Error("outbox figures: " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        busy = false;
        swap(html);
        later();
      })
      .catch(function () {
        busy = false;
        box.setAttribute("data-stopped", "");
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      if (!box.hasAttribute("data-stopped")) {
        load();
      }
    } else {
      stop();
    }
  });
  later();
}());
