// Page behaviour around HTMX: messages, polling only while visible, focus after swaps.
(function () {
  "use strict";

  function listElement() {
    return document.getElementById("integration-list");
  }

  function showMessage(text) {
    var region = document.getElementById("messages");
    if (!region) return;
    var box = document.createElement("div");
    box.className = "message message-error";
    box.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "message-dismiss";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "Dismiss message");
    close.textContent = "\u00d7";
    box.appendChild(p);
    box.appendChild(close);
    region.replaceChildren(box);
  }

  // An outcome in the address (?connected=tiktok, after OAuth or a plain form) is said once:
  // a reload or a bookmark must not repeat it next to a card that has changed since.
  if (/[?&](connected|refreshed|disconnected|error)=/.test(window.location.search)) {
    window.history.replaceState(window.history.state, "", window.location.pathname);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (!button) return;
    button.closest(".message").remove();
    document.getElementById("page-title").focus();  // not lost to <body>
  });

  var lastTargetId = null;

  document.addEventListener("htmx:beforeRequest", function (event) {
    var polling = event.detail.elt === listElement();
    // The list polls every 60 s; a hidden tab need not ask, and a list the creator is working
    // in (focus on one of its buttons) is not swapped from under them: the next poll will do.
    if (polling && (document.hidden || event.detail.elt.contains(document.activeElement))) {
      event.preventDefault();
      return;
    }
    lastTargetId = polling ? null : (event.detail.target && event.detail.target.id) || null;
  });

  document.addEventListener("visibilitychange", function () {
    var list = listElement();
    if (!document.hidden && list && window.htmx) {
      window.htmx.ajax("GET", list.getAttribute("hx-get"), { source: list, target: list, swap: "outerHTML" });
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400 || xhr.status === 422) return;
    // Our error fragments say where they go; anything else becomes a readable message.
    if (xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else {
      event.detail.shouldSwap = false;
      event.detail.isError = false;  // handled: shown as a message, not logged as a failure
      showMessage("Something went wrong (" + xhr.status + "). Please try again.");
    }
  });

  // The summary is a live region: the same words swapped in again at every poll would be read
  // out again every minute, so only a change is swapped (and so announced).
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target.id !== "attention") return;
    if (event.detail.fragment.textContent.trim() === target.textContent.trim()) {
      event.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showMessage("The network seems to be down. Please check your connection and try again.");
  });

  function restoreFocus(id) {
    if (id === "messages") return;
    var replaced = id ? document.getElementById(id) : null;
    var invalid = replaced && replaced.querySelector("[aria-invalid=true]");
    if (invalid) {
      invalid.focus();
      return;
    }
    // A reconnected card: its title; a removed card or a connected OnlyFans: the list heading.
    var title = replaced && replaced.querySelector(".card-title");
    var fallback = document.getElementById("accounts-title");
    (title || fallback).focus();
  }

  document.addEventListener("htmx:afterSettle", function () {
    if (!lastTargetId) return;
    var id = lastTargetId;
    lastTargetId = null;
    restoreFocus(id);
  });

  // A swap that removes its target (Disconnect) settles nothing, so htmx:afterSettle never
  // comes; htmx re-sends afterRequest to an ancestor still in the page, which lands here.
  document.addEventListener("htmx:afterRequest", function () {
    if (!lastTargetId || document.getElementById(lastTargetId)) return;
    lastTargetId = null;
    restoreFocus(null);
    var list = listElement();
    // The last card went: ask for the list again, so the page says that nothing is connected.
    if (list && !list.querySelector("li") && window.htmx) {
      window.htmx.ajax("GET", list.getAttribute("hx-get"), { source: list, target: list, swap: "outerHTML" });
    }
  });
})();
