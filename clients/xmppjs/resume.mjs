// @xmpp/client 0.14 through the proxy: SASL2 PLAIN with Bind2, inline stream
// management and a FAST token; then the TLS socket is destroyed and the
// client's own reconnect resumes inline with FAST + <resume/> in one
// <authenticate/>. Prints one JSON object per event; never a secret.
//
// env: as fast.mjs (SERVICE, DOMAIN, USERNAME, PASSWORD, PEER, NODE_EXTRA_CA_CERTS).
import { client, xml } from "@xmpp/client";

const env = process.env;
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const userAgent = xml("user-agent", { id: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" },
  xml("software", {}, "xmppjs-e2e"), xml("device", {}, "resume"));
let stored;

const x = client({
  service: env.SERVICE, domain: env.DOMAIN, resource: "xmppjs", userAgent,
  credentials: async (authenticate, mechanisms, fast) => {
    const token = await fast?.fetch();
    await authenticate({ username: env.USERNAME, password: env.PASSWORD, token },
      mechanisms.includes("PLAIN") ? "PLAIN" : mechanisms[0], userAgent);
  },
});
x.reconnect.delay = 100;
x.fast.saveToken = async (t) => { stored = t; out({ event: "token", mechanism: t.mechanism }); };
x.fast.fetchToken = async () => stored;
x.fast.deleteToken = async () => { stored = undefined; };
x.on("error", (e) => out({ event: "error", condition: e.condition || "", message: String(e.message) }));
x.on("send", (el) => {
  if (el.name === "authenticate") {
    out({ event: "authenticate", mechanism: el.attrs.mechanism, resume: !!el.getChild("resume", "urn:xmpp:sm:3") });
  }
});
x.on("stanza", (el) => {
  const body = el.is("message") && el.getChildText("body");
  if (body) out({ event: "message", message: body });
});

// <enabled/> inside <bound/> is handled before "online" fires.
const online = new Promise((resolve) => x.once("online", resolve));
x.start().catch((e) => { if (e.name !== "TimeoutError") out({ event: "start-error", message: String(e.message) }); });
out({ event: "online", jid: (await online).toString() });
out({ event: "sm", message: x.streamManagement.enabled ? "enabled" : "off" });

const resumed = new Promise((resolve) => x.streamManagement.once("resumed", resolve));
x.socket.socket.destroy(); // the TLS socket under xmpps://
await resumed;
out({ event: "resumed", jid: x.jid?.toString() });
await x.send(xml("message", { to: env.PEER, type: "chat" }, xml("body", {}, "resumed from xmpp.js")));
await x.stop();
out({ event: "done" });
process.exit(0);
