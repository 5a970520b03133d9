// signin.js — the page signs its user in with Entra ID (docs/signin.md) through
// Microsoft's own library, MSAL.js (vendor/msal-browser.min.js, loaded only when the
// server says the page signs in).
//
// The flow is the authorization code flow with PKCE: MSAL makes the verifier, the
// state and the nonce, and checks them when the answer comes back, in the URL's
// fragment (which no server sees). MSAL keeps the tokens in this tab's
// sessionStorage (it refuses a redirect sign-in with a memory-only cache): gone when
// the tab closes, never in localStorage, a cookie, the DOM or a URL. Renewal uses the
// refresh token over fetch (no frame: the page's CSP allows the authority for fetch
// only); when it cannot, the page goes through sign-in again and comes back where it
// was.
//
// Two more things in sessionStorage, neither a secret: the address to come back to
// (a deep link such as /?run=X#l-<id>) and that the user signed out (so that the page
// asks before signing in again).

import { el } from "/static/util.js";

const RETURN = "blastlog-return";
const SIGNED_OUT = "blastlog-signed-out";
const LIBRARY = "/static/vendor/msal-browser.min.js";

/**
 * signIn returns the signed-in session { getToken, name, signOut }, or null when the
 * page is on its way to the authority or asks the user to sign in (it says why).
 */
export async function signIn(c) {
  await import(LIBRARY);
  const msal = globalThis.msal;
  const redirectUri = c.redirectUri || location.origin + "/";
  const pca = new msal.PublicClientApplication({
    auth: {
      clientId: c.clientId,
      authority: c.authority,
      knownAuthorities: [new URL(c.authority).host],
      redirectUri,
      postLogoutRedirectUri: redirectUri,
    },
    cache: { cacheLocation: "sessionStorage" },
    system: { loggerOptions: { piiLoggingEnabled: false, logLevel: msal.LogLevel.Error, loggerCallback: () => {} } },
  });
  const request = { scopes: [c.scope] };
  const login = () => {
    sessionStorage.setItem(RETURN, location.pathname + location.search + location.hash);
    sessionStorage.removeItem(SIGNED_OUT);
    return pca.loginRedirect(request);
  };
  try {
    await pca.initialize();
  } catch (err) {
    return ask("Signing in is not possible here: " + describe(err), login);
  }

  let result = null;
  try {
    result = await pca.handleRedirectPromise({ navigateToLoginRequestUrl: false });
  } catch (err) {
    comeBack();
    return ask("Sign-in was refused by " + new URL(c.authority).host + ": " + describe(err), login);
  }
  if (result) comeBack();
  const account = (result && result.account) || pca.getAllAccounts()[0];
  if (!account) {
    if (sessionStorage.getItem(SIGNED_OUT)) return ask("You are signed out.", login);
    await login();
    return null;
  }
  pca.setActiveAccount(account);

  const getToken = async () => {
    try {
      // From memory while it is fresh, else renewed with the refresh token; never
      // through a hidden frame.
      const r = await pca.acquireTokenSilent({ ...request, account, cacheLookupPolicy: msal.CacheLookupPolicy.AccessTokenAndRefreshToken });
      return r.accessToken;
    } catch (err) {
      if (err instanceof msal.InteractionRequiredAuthError) {
        await login(); // the sign-in has ended: sign in again, and come back here
      }
      throw new Error("your sign-in could not be renewed: " + describe(err));
    }
  };
  const signOut = async () => {
    sessionStorage.setItem(SIGNED_OUT, "1");
    await pca.logoutRedirect({ account });
  };
  return { getToken, signOut, name: account.name || account.username || "signed in" };
}

/** showUser puts the signed-in user's name and Sign out in the header. */
export function showUser(session) {
  const who = document.getElementById("who");
  who.textContent = session.name;
  who.hidden = false;
  const out = document.getElementById("sign-out");
  out.hidden = false;
  out.addEventListener("click", () => { out.disabled = true; session.signOut(); });
}

// comeBack puts back the address the user opened before signing in, in place of the
// authority's answer.
function comeBack() {
  const back = sessionStorage.getItem(RETURN);
  sessionStorage.removeItem(RETURN);
  history.replaceState(null, "", back && back.startsWith("/") && !back.startsWith("//") ? back : "/");
}

// ask shows why the page is not signed in, with a button to sign in.
function ask(text, login) {
  const box = document.getElementById("signin");
  const b = el("button", "", "Sign in");
  b.type = "button";
  b.id = "signin-button";
  b.addEventListener("click", () => { b.disabled = true; login(); });
  box.replaceChildren(el("p", "", text), b);
  box.hidden = false;
  const badge = document.getElementById("badge");
  badge.textContent = "signed out";
  badge.className = "badge stopped";
  return null;
}

// describe is an MSAL error in one sentence: the authority's description (its first
// line, without the trace and correlation ids) and its code.
function describe(err) {
  const code = (err && err.errorCode) || "";
  let text = String((err && (err.errorMessage || err.message)) || err || "");
  text = text.split(/\r?\n|Trace ID:/)[0].trim().slice(0, 300);
  if (code && !text.includes(code)) text = text ? text + " (" + code + ")" : code;
  return text || "no reason given";
}
