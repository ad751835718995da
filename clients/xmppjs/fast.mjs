// @xmpp/client 0.14 through the proxy: SASL2 PLAIN (an app password) with
// Bind2 and a FAST token request, a message to a peer, then reconnects with
// the FAST token (HT-SHA-256-NONE). Prints one JSON object per event on
// stdout for the Go test that runs it; never prints a secret.
//
// env: SERVICE (xmpps://host:port or xmpp://host:port), DOMAIN, USERNAME,
// PASSWORD, PEER (a JID to message), RECONNECTS (FAST logins after the first),
// WAIT_REVOKE (stay online until the session ends, then wait to be back),
// NODE_EXTRA_CA_CERTS (the test CA).
import { client, xml } from "@xmpp/client";

const env = process.env;
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const userAgent = xml("user-agent", { id: "5e1f7c0a-3d2b-4a6e-9f1c-8b7a6d5e4c3b" },
  xml("software", {}, "xmppjs-e2e"), xml("device", {}, "ci"));
let stored; // {mechanism, token, expiry}

const x = client({
  service: env.SERVICE, domain: env.DOMAIN, resource: "xmppjs", userAgent,
  credentials: async (authenticate, mechanisms, fast) => {
    const token = await fast?.fetch(); // fetched fresh each time: see the recipe
    await authenticate({ username: env.USERNAME, password: env.PASSWORD, token },
      mechanisms.includes("PLAIN") ? "PLAIN" : mechanisms[0], userAgent);
  },
});
x.fast.saveToken = async (t) => { stored = t; out({ event: "token", mechanism: t.mechanism, expiry: t.expiry }); };
x.fast.fetchToken = async () => stored;
x.fast.deleteToken = async () => { stored = undefined; out({ event: "token-deleted" }); };
x.on("error", (e) => out({ event: "error", condition: e.condition || "", message: String(e.message) }));
x.on("send", (el) => {
  if (el.name === "authenticate") out({ event: "authenticate", mechanism: el.attrs.mechanism });
});

// @xmpp/connection 0.14 may reject start() with a TimeoutError although the
// client goes online: wait for "online" instead.
const online = () => new Promise((resolve) => {
  x.once("online", (jid) => resolve(jid));
  x.start().catch((e) => { if (e.name !== "TimeoutError") out({ event: "start-error", message: String(e.message) }); });
});

const jid = await online();
out({ event: "online", jid: jid.toString() });
await x.send(xml("message", { to: env.PEER, type: "chat" }, xml("body", {}, "hello from xmpp.js")));
for (let i = 0; i < Number(env.RECONNECTS || 1); i++) {
  await x.stop();
  const again = await online();
  out({ event: "online", jid: again.toString() });
}
await x.send(xml("message", { to: env.PEER, type: "chat" }, xml("body", {}, "hello again from xmpp.js")));
if (env.WAIT_REVOKE) {
  // The test revokes the FAST token now: the session ends, and the client's
  // own reconnect tries the token, is refused, and falls back to the password.
  out({ event: "waiting" });
  const back = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("not back online within 30 s")), 30000);
    x.once("online", (j) => { clearTimeout(timer); resolve(j); });
  });
  out({ event: "online", jid: back.toString() });
}
await x.stop();
out({ event: "done" });
process.exit(0);
