// @xmpp/client 0.14, one client's whole session, the same against any SASL2
// server (the proxy or the reference Prosody): SASL2 PLAIN with Bind2, inline
// SM and a FAST token request; a message each way with a peer; a reconnect
// with FAST; then the TLS socket is cut while the peer sends, and the
// client's own reconnect resumes inline (FAST + <resume/>). Prints one JSON
// object per event on stdout; never a secret.
//
// env: SERVICE (xmpps://host:port, or xmpp://host:port for STARTTLS), DOMAIN, USERNAME, PASSWORD, PEER_USERNAME,
// PEER_PASSWORD, NODE_EXTRA_CA_CERTS (the test CA).
import { client, xml } from "@xmpp/client";

const env = process.env;
const out = (o) => { process.stdout.write(JSON.stringify(o) + "\n"); if (env.DEBUG) console.error(o); };
setTimeout(() => { out({ event: "error", message: "timed out" }); process.exit(2); }, 40000).unref();

// online starts c and waits for "online": start() may reject with a
// TimeoutError although the client goes online (see the recipe).
const online = (c) => new Promise((resolve) => {
  c.once("online", (jid) => resolve(jid.toString()));
  c.start().catch((e) => { if (e.name !== "TimeoutError") out({ event: "start-error", message: String(e.message) }); });
});
// bodies collects the chat bodies c receives.
const bodies = (c) => {
  const got = [];
  c.on("stanza", (el) => { const b = el.is("message") && el.getChildText("body"); if (b) got.push(b); });
  return got;
};
const until = async (f, what) => {
  for (let i = 0; i < 300 && !f(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!f()) out({ event: "error", message: "waited in vain for " + what });
};
const chat = (to, body) => xml("message", { to, type: "chat" }, xml("body", {}, body));

// The peer: a plain login, no FAST.
const peer = client({ service: env.SERVICE, domain: env.DOMAIN, resource: "peer",
  username: env.PEER_USERNAME, password: env.PEER_PASSWORD });
peer.on("error", (e) => out({ event: "error", message: "peer: " + String(e.message) }));
const peerGot = bodies(peer);
const peerJID = await online(peer);
await peer.send(xml("presence"));

const userAgent = xml("user-agent", { id: "7c6b5a49-3827-4d16-a5f4-e3d2c1b0a998" },
  xml("software", {}, "xmppjs-e2e"), xml("device", {}, "session"));
let stored;
const x = client({
  // username also puts from= on the stream header, which FAST needs from
  // mod_sasl2_fast (the proxy offers it either way).
  service: env.SERVICE, domain: env.DOMAIN, resource: "xmppjs", userAgent, username: env.USERNAME,
  credentials: async (authenticate, mechanisms, fast) => {
    const token = await fast?.fetch(); // fetched fresh each time: see the recipe
    await authenticate({ username: env.USERNAME, password: env.PASSWORD, token },
      mechanisms.includes("PLAIN") ? "PLAIN" : mechanisms[0], userAgent);
  },
});
x.reconnect.delay = 100;
x.fast.saveToken = async (t) => { stored = t; out({ event: "token", mechanism: t.mechanism }); };
x.fast.fetchToken = async () => stored;
x.fast.deleteToken = async () => { stored = undefined; out({ event: "token-deleted" }); };
x.on("error", (e) => out({ event: "error", condition: e.condition || "", message: String(e.message) }));
x.on("send", (el) => {
  if (el.name === "authenticate") out({ event: "authenticate", mechanism: el.attrs.mechanism });
});
const got = bodies(x);

out({ event: "online", jid: await online(x) });
out({ event: "sm", message: x.streamManagement.enabled ? "enabled" : "off" });
await x.send(xml("presence"));
await x.send(chat(peerJID.split("/")[0], "to peer 1"));
await until(() => peerGot.includes("to peer 1"), "the peer's first message");
await peer.send(chat(x.jid.toString(), "from peer 1"));
await until(() => got.includes("from peer 1"), "the client's first message");

await x.stop(); // stop() ends the SM session: the next login binds again
out({ event: "online", jid: await online(x) });
out({ event: "sm", message: x.streamManagement.enabled ? "enabled" : "off" });
await x.send(xml("presence"));

// Cut the TLS socket; the peer's messages meet a dead connection or a
// hibernating session: the resume must deliver each exactly once.
const resumed = new Promise((resolve) => x.streamManagement.once("resumed", resolve));
x.socket.socket.destroy();
for (const n of [1, 2, 3]) await peer.send(chat(x.jid.toString(), "while cut " + n));
await resumed;
out({ event: "resumed", jid: x.jid.toString() });
await peer.send(chat(x.jid.toString(), "after resume"));
await until(() => got.includes("after resume"), "the message after the resume");
await new Promise((r) => setTimeout(r, 300)); // room for a doubled one
await x.send(chat(peerJID.split("/")[0], "to peer 2"));
await until(() => peerGot.includes("to peer 2"), "the peer's message after the resume");
out({ event: "received", message: JSON.stringify(got) });
out({ event: "peer-received", message: JSON.stringify(peerGot) });
await x.stop();
await peer.stop();
out({ event: "done" });
process.exit(0);
