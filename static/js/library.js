/*
 * The library: uploads with a progress bar (drag and drop or the picker) and the dialog that
 * asks for a document's title before deleting it. Needs pagecast.js.
 */
(function () {
  "use strict";

  function startUploads(form) {
    const Pagecast = window.Pagecast;
    const gettext = Pagecast.gettext;
    const input = form.querySelector('input[type="file"]');
    const title = form.querySelector('input[name="title"]');
    const progress = document.getElementById("upload-progress");
    const errorBox = form.querySelector("[data-form-error]");
    const button = form.querySelector('button[type="submit"]');
    let uploading = false;

    function hasFiles(event) {
      return event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
    }

    for (const type of ["dragenter", "dragover"]) {
      form.addEventListener(type, (event) => {
        if (hasFiles(event)) {
          event.preventDefault();
          form.classList.add("dragging");
        }
      });
    }
    form.addEventListener("dragleave", (event) => {
      if (!form.contains(event.relatedTarget)) {
        form.classList.remove("dragging");
      }
    });
    form.addEventListener("drop", (event) => {
      form.classList.remove("dragging");
      if (!event.dataTransfer || !event.dataTransfer.files.length) {
        return;
      }
      event.preventDefault();
      input.files = event.dataTransfer.files;
      upload();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      upload();
    });

    function finish() {
      uploading = false;
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }

    function upload() {
      if (uploading) {
        return;
      }
      errorBox.textContent = "";
      if (!input.files || !input.files.length) {
        errorBox.textContent = gettext("Choose a file to upload.");
        input.focus();
        return;
      }
      const file = input.files[0];
      const data = new FormData();
      data.append("file", file);
      if (title.value.trim()) {
        data.append("title", title.value.trim());
      }
      const request = new XMLHttpRequest();
      request.open("POST", form.dataset.uploadUrl);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRFToken", Pagecast.csrfToken());
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          progress.value = Math.round((event.loaded / event.total) * 100);
        }
      });
      request.addEventListener("load", async () => {
        let body = null;
        try {
          body = JSON.parse(request.responseText);
        } catch (_error) {
          body = null;
        }
        finish();
        if (request.status >= 200 && request.status < 300 && body) {
          progress.value = 100;
          form.reset();
          await Pagecast.refreshRegions(["documents"]);
          progress.hidden = true;
          Pagecast.announce(
            Pagecast.interpolate(gettext("“%(title)s” was uploaded."), { title: body.title }, true),
          );
        } else {
          progress.hidden = true;
          errorBox.textContent = Pagecast.errorMessage(body);
        }
      });
      request.addEventListener("error", () => {
        finish();
        progress.hidden = true;
        errorBox.textContent = gettext(
          "The upload was interrupted. Check your connection and try again.",
        );
      });
      uploading = true;
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      progress.value = 0;
      progress.hidden = false;
      Pagecast.announce(
        Pagecast.interpolate(gettext("Uploading “%(name)s”…"), { name: file.name }, true),
      );
      request.send(data);
    }
  }

  function startDeleteDialog(dialog) {
    const form = dialog.querySelector("form");
    const input = form.querySelector("[data-confirm-input]");
    document.addEventListener("click", (event) => {
      const link = event.target.closest("[data-delete-document]");
      if (!link || typeof dialog.showModal !== "function") {
        return;
      }
      event.preventDefault();
      form.action = link.dataset.action;
      form.dataset.apiUrl = link.dataset.apiUrl;
      dialog.querySelector("[data-delete-title]").textContent = link.dataset.title;
      input.value = "";
      input.dataset.expected = link.dataset.title;
      form.querySelector("[data-form-error]").textContent = "";
      window.Pagecast.updateConfirm(form);
      dialog.showModal();
      input.focus();
    });
    // The row and its button are gone: people continue from the list.
    form.addEventListener("pagecast:success", () => {
      const list = document.getElementById("documents");
      if (list) {
        list.focus();
      }
    });
  }

  function start() {
    const form = document.getElementById("upload-form");
    if (form && window.Pagecast) {
      startUploads(form);
    }
    const dialog = document.getElementById("delete-dialog");
    if (dialog && window.Pagecast) {
      startDeleteDialog(dialog);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
