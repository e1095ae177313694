// Post, reply and flag without a page reload. The forms work without this file: it only
// sends the same POST with "Accept: application/json" and puts the answer on the page.
(function () {
  "use strict";
  var status = document.querySelector("[data-comment-status]");

  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function send(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // Logged out meanwhile, or an unexpected page: let the browser handle it normally.
        form.submit();
        return null;
      }
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    });
  }

  // "Reply" is a link to a reply page; with JavaScript the one reply form on the page
  // (a <template>) opens under the comment instead.
  var replyTemplate = document.getElementById("reply-form-template");
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-reply-to]");
    if (!link || !replyTemplate) return;
    event.preventDefault();
    var open = document.querySelector(".discussion .reply-form");
    if (open) open.remove();
    var form = replyTemplate.content.firstElementChild.cloneNode(true);
    form.querySelector("input[name=parent]").value = link.getAttribute("data-reply-to");
    link.closest(".comment-actions").after(form);
    form.querySelector("textarea").focus();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("[data-comment-form]")) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      send(form).then(function (result) {
        if (button) button.disabled = false;
        if (!result) return;
        if (!result.ok) { say(result.data.error || "Something went wrong.", true); return; }
        var list = result.data.parent
          ? document.querySelector('[data-replies-for="' + result.data.parent + '"]')
          : document.querySelector("[data-comment-list]");
        if (list) list.insertAdjacentHTML("beforeend", result.data.html);
        var empty = document.querySelector("[data-comment-empty]");
        if (empty) empty.remove();
        if (form.classList.contains("reply-form")) form.remove(); else form.reset();
        say(result.data.message, false);
      }).catch(function () {
        if (button) button.disabled = false;
        form.submit();
      });
    } else if (form.matches("[data-comment-action]")) {
      event.preventDefault();
      send(form).then(function (result) {
        if (!result) return;
        say(result.data.message || result.data.error, !result.ok);
        if (result.ok) form.replaceWith(document.createTextNode(""));
      });
    }
  });
})();
