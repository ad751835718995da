// An @xmpp/client 0.14 session over WebSocket, driven by a Go test through
// stdin/stdout. Lines out: "ONLINE <jid>", "MESSAGE <from> <body>",
// "RESUMED", "ERROR <text>". Lines in: "send <jid> <body>", "cut" (the
// WebSocket dies without <close/> or close frame), "stop".
// Env: SERVICE (wss://...), DOMAIN, USERNAME, PASSWORD, CA_FILE (PEM to trust).
import fs from "node:fs";
import readline from "node:readline";
import WS from "ws";
import { client, xml } from "@xmpp/client";

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const ca = fs.readFileSync(env("CA_FILE"));
// Node 20 has no global WebSocket; the ws package's, trusting the test CA.
globalThis.WebSocket = class extends WS {
  constructor(url, protocols) { super(url, protocols, { ca }); }
};

const out = (line) => process.stdout.write(line + "\n");
const xmpp = client({
  service: env("SERVICE"), domain: env("DOMAIN"), resource: "node",
  username: env("USERNAME"), password: env("PASSWORD"),
});
xmpp.on("error", (e) => out("ERROR " + (e.condition || "") + " " + e.message));
xmpp.on("online", (jid) => out("ONLINE " + jid.toString()));
xmpp.streamManagement.on("resumed", () => out("RESUMED"));
xmpp.on("stanza", (st) => {
  if (st.is("message") && st.getChildText("body")) {
    out("MESSAGE " + st.attrs.from + " " + st.getChildText("body"));
  }
});

// start() may reject with TimeoutError against a fast local server although the
// client goes online (a known 0.14 race): the "online" event is what counts.
xmpp.start().catch((e) => { if (e.name !== "TimeoutError") out("ERROR start " + e.message); });

for await (const line of readline.createInterface({ input: process.stdin })) {
  const [cmd, to, ...body] = line.split(" ");
  if (cmd === "send") {
    await xmpp.send(xml("message", { to, type: "chat" }, xml("body", {}, body.join(" "))));
  } else if (cmd === "cut") {
    xmpp.socket.socket.terminate(); // like a lost network: no <close/>, no close frame
  } else if (cmd === "stop") {
    await xmpp.stop();
    process.exit(0);
  }
}
