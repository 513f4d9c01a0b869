// The demo's <demo-login-form> element: a sign-in form inside an open
// shadow root, so a filler that only searches the document finds nothing.
"use strict";

(function () {
  const TAG = "demo-login-form";

  // Fixed markup: no value from the page or the server goes into it.
  const MARKUP = `
<link rel="stylesheet" href="/static/demo.css">
<form method="post" action="/shadow-root/">
<p><label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username"
 autocapitalize="none" spellcheck="false" maxlength="64" required></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password"
 autocomplete="current-password" maxlength="128" required></p>
<p><button type="submit">Sign in</button></p>
</form>`;

  class DemoLoginForm extends HTMLElement {
    // Runs when the element enters the document; builds the form once.
    connectedCallback() {
      if (this.shadowRoot) {
        return;
      }
      const root = this.attachShadow({ mode: "open" });
      root.innerHTML = MARKUP;
    }
  }

  customElements.define(TAG, DemoLoginForm);
})();
