/* The task page: keyboard first, a lease countdown, ranking by keyboard or drag, a length counter.
   A static file (the CSP forbids inline scripts). Works on the first page and on every task htmx swaps in. */
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && !/^(radio|checkbox|button|submit)$/.test(target.type));
  }

  function task() { return document.getElementById("task"); }

  document.addEventListener("keydown", function (event) {
    var section = task();
    if (!section || event.altKey || event.metaKey) return;
    var answer = section.querySelector("form#answer");
    if (!answer) return;
    if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); submitByKey(section, answer); return; }
    if (event.ctrlKey || typing(event.target)) return;
    var item = event.target.closest && event.target.closest(".ranking li");
    if (item && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      move(item, event.key === "ArrowUp" ? -1 : 1);
      return;
    }
    if (event.key === "Enter") {
      if (event.target.tagName === "BUTTON" || event.target.tagName === "A" || event.target.tagName === "SUMMARY") return;
      event.preventDefault();
      submitByKey(section, answer);
      return;
    }
    if (event.key === "s" || event.key === "S") {
      var skip = section.querySelector("#skip");
      if (skip) { event.preventDefault(); skip.click(); }
      return;
    }
    if (event.key === "d" || event.key === "D") {
      var diff = section.querySelector("details.diff");
      if (diff) { event.preventDefault(); diff.open = !diff.open; }
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var choice = section.querySelector('input[data-key="' + key + '"]');
    if (choice) {
      event.preventDefault();
      if (choice.type === "checkbox") { choice.checked = !choice.checked; noneStandsAlone(choice); } else { choice.checked = true; }
      choice.focus();
    }
  });

  // A key press sends the answer, except a flags task with nothing ticked: an Enter pressed by habit must not
  // send "no problem". The page says what to do (tick "none", or press the Submit button itself).
  function submitByKey(section, answer) {
    var boxes = section.querySelectorAll("input[name=flags]");
    if (boxes.length && !section.querySelector("input[name=flags]:checked")) {
      var hint = section.querySelector("#flags-hint");
      if (hint) { hint.hidden = false; hint.textContent = hint.getAttribute("data-text"); }
      return;
    }
    answer.requestSubmit();
  }

  // A taxonomy's "none" (no problem) and a problem exclude each other: ticking one unticks the other (the
  // server refuses both together, tasks.label_schemas).
  function noneStandsAlone(box) {
    if (box.name !== "flags" || !box.checked) return;
    var fieldset = box.closest("fieldset[data-none]");
    if (!fieldset) return;
    var none = fieldset.getAttribute("data-none");
    fieldset.querySelectorAll("input[name=flags]:checked").forEach(function (other) {
      if (other !== box && (box.value === none || other.value === none)) { other.checked = false; }
    });
    var hint = fieldset.querySelector("#flags-hint");
    if (hint) { hint.hidden = true; }
  }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "flags") { noneStandsAlone(event.target); }
  });

  // Where the focus goes when a task arrives (first page or an htmx swap): the text box on text and fix
  // tasks; otherwise the task's heading, never a text box: htmx keeps the focus on an element of the same
  // id, so after Ctrl+Enter in the reason box the next task's reason box would take the keys 1 2 3.
  function focusTask(root) {
    var section = root.id === "task" ? root : root.querySelector && root.querySelector("#task");
    if (!section || !section.querySelector("form#answer")) return;
    var first = section.querySelector("[data-first-focus]") || section.querySelector("#task-title");
    if (first) { first.focus({preventScroll: root === document}); }
  }

  function move(item, step) {
    var list = item.parentNode;
    var moved = false;
    if (step < 0 && item.previousElementSibling) { list.insertBefore(item, item.previousElementSibling); moved = true; }
    else if (step > 0 && item.nextElementSibling) { list.insertBefore(item.nextElementSibling, item); moved = true; }
    renumber(list, moved ? item : null);
    item.focus();
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }

  // The order is the answer: each item shows its position, its label says position and name (the name
  // stays with the response), the first cannot move up nor the last down, and a move is announced.
  function renumber(list, moved) {
    var items = list.querySelectorAll(":scope > li");
    var total = items.length;
    items.forEach(function (li, i) {
      var values = {n: i + 1, total: total, name: li.getAttribute("data-name")};
      li.setAttribute("aria-label", fill(list.getAttribute("data-label"), values));
      var pos = li.querySelector(".rank-pos");
      if (pos) { pos.textContent = String(i + 1); }
      var up = li.querySelector("button[data-move=up]"), down = li.querySelector("button[data-move=down]");
      if (up) { up.disabled = i === 0; }
      if (down) { down.disabled = i === total - 1; }
      if (li === moved) {
        var status = document.getElementById("ranking-status");
        if (status) { status.textContent = fill(list.getAttribute("data-moved"), values); }
      }
    });
  }

  function setUpRanking(root) {
    root.querySelectorAll(".ranking:not([data-ready])").forEach(function (list) {
      list.setAttribute("data-ready", "1");
      var dragged = null;
      list.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-move]");
        if (button) { move(button.closest("li"), button.getAttribute("data-move") === "up" ? -1 : 1); }
      });
      list.addEventListener("dragstart", function (event) {
        dragged = event.target.closest("li");
        if (dragged) { dragged.classList.add("dragging"); event.dataTransfer.effectAllowed = "move"; }
      });
      list.addEventListener("dragend", function () {
        if (dragged) { dragged.classList.remove("dragging"); renumber(list, dragged); }
        dragged = null;
      });
      list.addEventListener("dragover", function (event) {
        var over = event.target.closest("li");
        if (!dragged || !over || over === dragged) return;
        event.preventDefault();
        var box = over.getBoundingClientRect();
        list.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? over.nextSibling : over);
      });
      list.addEventListener("drop", function (event) { event.preventDefault(); });
    });
  }

  function setUpCounters(root) {
    root.querySelectorAll("textarea[data-counter]:not([data-ready])").forEach(function (box) {
      box.setAttribute("data-ready", "1");
      var out = document.getElementById(box.getAttribute("data-counter"));
      var update = function () {
        var n = box.value.trim().length;
        out.textContent = n + " / " + out.getAttribute("data-max");
        out.classList.toggle("error", n < Number(out.getAttribute("data-min")) || n > Number(out.getAttribute("data-max")));
      };
      box.addEventListener("input", update);
      update();
    });
  }

  var timer = null;
  function setUpLease(root) {
    var lease = root.querySelector(".lease[data-seconds-left]");
    if (!lease && root.id !== "task" && root !== document) return;
    if (timer) { clearInterval(timer); timer = null; }
    if (!lease) return;
    // The server's count of seconds left, not the two clocks' difference: a phone's clock may be off.
    var ends = Date.now() + Number(lease.getAttribute("data-seconds-left")) * 1000;
    var out = lease.querySelector(".countdown");
    // A minute before the end, once: an alert with what to do (submit, or return the task).
    var warning = root.querySelector("#lease-warning") || document.getElementById("lease-warning");
    var warnAt = warning ? Number(warning.getAttribute("data-warn-seconds")) : 0;
    var tick = function () {
      var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      if (warning && left > 0 && left <= warnAt && warning.hidden) {
        lease.classList.add("ending");
        warning.hidden = false;
        warning.textContent = warning.getAttribute("data-text");
      }
      if (left === 0) {
        if (warning) { warning.hidden = true; }
        clearInterval(timer);
        lease.classList.add("expired");
        lease.setAttribute("role", "alert");
        out.textContent = out.getAttribute("data-expired-text");
        var submit = document.getElementById("submit-answer");
        if (submit) { submit.disabled = true; }
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      out.textContent = "(" + m + ":" + (s < 10 ? "0" : "") + s + ")";
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  // Code wider than its box scrolls inside it: such a box (only such a box, not to add Tab stops) can take
  // the focus, so the keyboard can scroll it too (arrow keys).
  function setUpScrollers(root) {
    (root.querySelectorAll ? root : document).querySelectorAll(".hl").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) { box.setAttribute("tabindex", "0"); }
      else if (box.getAttribute("tabindex") === "0") { box.removeAttribute("tabindex"); }
    });
  }
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { setUpScrollers(document); }, 150);
  });

  function setUp(root) {
    setUpScrollers(root);
    setUpRanking(root);
    setUpCounters(root);
    setUpLease(root);
    focusTask(root);
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (event) { setUp(event.detail.elt); });
})();
