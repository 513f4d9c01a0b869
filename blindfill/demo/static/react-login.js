// The demo's React sign-in form. The field values live in React state and
// change only through onChange, so a value written to an input without an
// input event never reaches the server. Written without JSX: no build step.
"use strict";

(function () {
  const h = React.createElement;
  const LOGIN_URL = "/react/api/login";
  const UNREACHABLE = "The server could not be reached. Try again.";

  function Field(props) {
    return h(
      "p",
      null,
      h("label", { htmlFor: props.id }, props.label),
      h("input", {
        id: props.id,
        name: props.id,
        type: props.type,
        autoComplete: props.autoComplete,
        maxLength: props.maxLength,
        required: true,
        value: props.value,
        // The only way a value gets into state.
        onChange: (event) => props.onChange(event.target.value),
      }),
    );
  }

  function LoginForm() {
    const [username, setUsername] = React.useState("");
    const [password, setPassword] = React.useState("");
    const [error, setError] = React.useState(null);
    const [signedIn, setSignedIn] = React.useState(null);
    const [busy, setBusy] = React.useState(false);

    // Runs on submit: posts the state (not the DOM) and shows the answer.
    async function submit(event) {
      event.preventDefault();
      setBusy(true);
      setError(null);
      try {
        const response = await fetch(LOGIN_URL, {
          method: "POST",
          body: new URLSearchParams({ username, password }),
          credentials: "same-origin",
        });
        const isJson = (response.headers.get("content-type") || "")
          .startsWith("application/json");
        const answer = isJson ? await response.json() : {};
        if (response.ok && answer.username) {
          setSignedIn(answer.username);
        } else {
          setError(answer.error || `The server refused the request (${response.status}).`);
        }
      } catch (_) {
        setError(UNREACHABLE);
      } finally {
        setBusy(false);
      }
    }

    if (signedIn !== null) {
      return h(
        "p",
        { id: "signed-in", role: "status" },
        "Signed in as ",
        h("strong", null, signedIn),
      );
    }
    return h(
      "form",
      { method: "post", action: LOGIN_URL, onSubmit: submit },
      error && h("p", { className: "error", role: "alert" }, error),
      h(Field, {
        id: "username",
        label: "Username",
        type: "text",
        autoComplete: "username",
        maxLength: 64,
        value: username,
        onChange: setUsername,
      }),
      h(Field, {
        id: "password",
        label: "Password",
        type: "password",
        autoComplete: "current-password",
        maxLength: 128,
        value: password,
        onChange: setPassword,
      }),
      h("p", null, h("button", { type: "submit", disabled: busy }, "Sign in")),
    );
  }

  ReactDOM.createRoot(document.getElementById("root")).render(h(LoginForm));
})();
