/*
 * The library: uploads with a progress bar (a file dropped anywhere on the page, or the picker),
 * checked for size before anything is sent; and the dialogs of a row's menu that rename a
 * document and ask for its title before deleting it. Needs pagecast.js.
 */
(function () {
  "use strict";

  function hasFiles(event) {
    return Boolean(
      event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files"),
    );
  }

  function megabytes(bytes) {
    const value = bytes / (1024 * 1024);
    return value >= 10 ? String(Math.round(value)) : value.toFixed(1);
  }

  function startUploads(form) {
    const Pagecast = window.Pagecast;
    const gettext = Pagecast.gettext;
    const dialog = form.closest("dialog");
    const input = form.querySelector('input[type="file"]');
    const title = form.querySelector('input[name="title"]');
    const progress = document.getElementById("upload-progress");
    const errorBox = form.querySelector("[data-form-error]");
    const button = form.querySelector('button[type="submit"]');
    const maxBytes = Number(form.dataset.maxBytes) || 0;
    let uploading = false;

    function showForm() {
      if (dialog && !dialog.open && typeof dialog.showModal === "function") {
        Pagecast.closeMenus(null);
        dialog.showModal();
      }
    }

    /* Why this file cannot be sent, said before sending it; "" when it can. */
    function refusal(file) {
      if (file.size === 0) {
        return Pagecast.interpolate(gettext("“%(name)s” is empty."), { name: file.name }, true);
      }
      if (maxBytes && file.size > maxBytes) {
        return Pagecast.interpolate(
          gettext("“%(name)s” is %(size)s MB, larger than the limit of %(limit)s."),
          { name: file.name, size: megabytes(file.size), limit: form.dataset.maxLabel },
          true,
        );
      }
      return "";
    }

    function refuse(message) {
      errorBox.textContent = message;
      showForm();
      input.focus();
    }

    /* The file was sent and not taken: "Uploading …" gives way to why. */
    function refuseSent(message) {
      progress.hidden = true;
      refuse(message);
      Pagecast.announce(message);
    }

    // --- A file dragged over the page: the whole page takes it ---------------------------------

    const overlay = document.getElementById("drop-overlay");
    let depth = 0; // dragenter and dragleave come in pairs for every element crossed

    function showOverlay() {
      form.classList.add("dragging"); // seen when the form's dialog is open, over the overlay
      if (overlay) {
        overlay.hidden = false;
      }
    }

    function hideOverlay() {
      depth = 0;
      form.classList.remove("dragging");
      if (overlay) {
        overlay.hidden = true;
      }
    }

    function outsideTheWindow(event) {
      return (
        event.clientX <= 0 ||
        event.clientY <= 0 ||
        event.clientX >= window.innerWidth ||
        event.clientY >= window.innerHeight
      );
    }

    window.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) {
        return;
      }
      event.preventDefault();
      depth += 1;
      showOverlay();
    });
    window.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) {
        return;
      }
      // Without this the browser would open the file in place of the library.
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      showOverlay();
    });
    window.addEventListener("dragleave", (event) => {
      if (!hasFiles(event)) {
        return;
      }
      depth -= 1;
      if (depth <= 0 || outsideTheWindow(event)) {
        hideOverlay();
      }
    });
    window.addEventListener("dragend", hideOverlay);
    window.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && overlay && !overlay.hidden) {
        hideOverlay();
      }
    });
    window.addEventListener("drop", (event) => {
      if (!hasFiles(event) && !(event.dataTransfer && event.dataTransfer.files.length)) {
        return;
      }
      event.preventDefault();
      hideOverlay();
      const files = event.dataTransfer.files;
      if (!files.length) {
        return;
      }
      if (uploading) {
        refuse(gettext("Wait for this upload to finish, then drop the next file."));
        return;
      }
      input.files = files;
      upload(
        files.length > 1
          ? Pagecast.interpolate(
              gettext("One file at a time: only “%(name)s” is being added."),
              { name: files[0].name },
              true,
            )
          : "",
      );
    });

    // --- The picker ----------------------------------------------------------------------------

    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      errorBox.textContent = file ? refusal(file) : "";
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      upload("");
    });

    function finish() {
      uploading = false;
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }

    function upload(note) {
      if (uploading) {
        return;
      }
      errorBox.textContent = "";
      if (!input.files || !input.files.length) {
        refuse(gettext("Choose a file to upload."));
        return;
      }
      const file = input.files[0];
      const refused = refusal(file);
      if (refused) {
        refuse(refused);
        return;
      }
      showForm();
      errorBox.textContent = note;
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
          errorBox.textContent = "";
          if (dialog && dialog.open) {
            dialog.close();
          }
          await Pagecast.refreshRegions(["documents"]);
          progress.hidden = true;
          Pagecast.announce(
            Pagecast.interpolate(gettext("“%(title)s” was uploaded."), { title: body.title }, true),
          );
        } else {
          // Said by the server, in words: a type it does not read, too large, or how long to
          // wait when too many were added.
          refuseSent(Pagecast.errorMessage(body));
        }
      });
      request.addEventListener("error", () => {
        finish();
        refuseSent(gettext("The upload was interrupted. Check your connection and try again."));
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

  /* An item of a row's menu that opens a dialog: the menu closes first, with focus on its
     button, so closing the dialog gives focus back there. */
  function fromMenu(link) {
    const menu = link.closest("details[data-menu]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
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
      fromMenu(link);
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

  function startRenameDialog(dialog) {
    const form = dialog.querySelector("form");
    const input = form.querySelector('input[name="title"]');
    let anchor = "";
    document.addEventListener("click", (event) => {
      const link = event.target.closest("[data-rename-document]");
      if (!link || typeof dialog.showModal !== "function") {
        return;
      }
      event.preventDefault();
      fromMenu(link);
      anchor = link.closest(".document-row") ? link.closest(".document-row").id : "";
      form.action = link.dataset.action;
      form.dataset.apiUrl = link.dataset.apiUrl;
      input.value = link.dataset.title;
      form.querySelector("[data-form-error]").textContent = "";
      dialog.showModal();
      input.select();
    });
    // The list was drawn again: focus goes back to the renamed row's menu button.
    form.addEventListener("pagecast:success", () => {
      const row = anchor && document.getElementById(anchor);
      const button = row && row.querySelector("details[data-menu] > summary");
      if (button) {
        button.focus();
      }
    });
  }

  function start() {
    if (!window.Pagecast) {
      return;
    }
    const form = document.getElementById("upload-form");
    if (form) {
      startUploads(form);
    }
    const deleteDialog = document.getElementById("delete-dialog");
    if (deleteDialog) {
      startDeleteDialog(deleteDialog);
    }
    const renameDialog = document.getElementById("rename-dialog");
    if (renameDialog) {
      startRenameDialog(renameDialog);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
