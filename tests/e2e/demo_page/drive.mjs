// Drives the gateway's demo page as a person would, in jsdom, against a real gateway.
//
// node drive.mjs <static dir> <gateway url> <scenario> <json args>
//
// The page's own index.html and app.js run unchanged; only the browser is stood in for:
// jsdom for the DOM, the `ws` package for WebSocket (it speaks the same protocol to the
// gateway, subprotocol token included). Each step waits on what the page shows, with a
// deadline, and the script prints one JSON line of what it saw; a step that never comes
// exits 1 naming it.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { JSDOM } from "jsdom";
import WebSocket from "ws";

const [staticDir, gatewayUrl, scenario, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs ?? "{}");

function loadPage() {
  // Without the <script> tag: app.js is evaluated below, once the stand-ins are in place.
  const html = readFileSync(join(staticDir, "index.html"), "utf8").replace(
    /<script[^>]*><\/script>/,
    "",
  );
  const dom = new JSDOM(html, { url: `${gatewayUrl}/`, runScripts: "outside-only" });
  const { window } = dom;
  window.WebSocket = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      // A browser's WebSocket fires "error" then "close" on a refused handshake, harmless
      // without a listener; an EventEmitter's "error" without one throws.
      this.on("error", () => {});
    }
  };
  window.eval(readFileSync(join(staticDir, "app.js"), "utf8"));
  return window;
}

async function until(what, probe, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) {
      console.log(JSON.stringify({ failed: `timed out waiting for ${what}` }));
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function page(window) {
  const doc = window.document;
  const $ = (id) => doc.getElementById(id);
  const submit = (id) =>
    $(id).dispatchEvent(new window.Event("submit", { bubbles: true, cancelable: true }));
  return {
    $,
    status: () => ({ state: $("status").dataset.state, text: $("status").textContent }),
    join(user, token, gateway) {
      if (gateway) $("gateway").value = gateway;
      $("campaign").value = args.campaign;
      $("user").value = user;
      $("token").value = token ?? "";
      submit("join-form");
    },
    leave: () => submit("join-form"),
    chat(text) {
      $("chat-input").value = text;
      submit("chat-form");
    },
    search(query) {
      $("search-input").value = query;
      submit("search-form");
    },
    entries: () =>
      Array.from($("log").children, (li) => ({
        type: li.dataset.type,
        direction: li.className.replace("entry ", ""),
        outcome: li.dataset.outcome ?? null,
        text: li.querySelector(".payload")?.textContent ?? "",
        result: li.querySelector(".outcome")?.textContent ?? "",
      })),
    welcome: () =>
      $("welcome").hidden
        ? null
        : {
            connection: $("welcome-connection").textContent,
            recovered: $("welcome-recovered").textContent,
          },
  };
}

// Another member of the campaign, without the page: one chat message, acked, then gone.
async function sendAs(user, token, text) {
  const url = `${gatewayUrl.replace(/^http/, "ws")}/ws/${args.campaign}/${user}`;
  const socket = new WebSocket(url, token ? [`bearer.${token}`] : []);
  await new Promise((resolve, reject) => {
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "nexus.welcome") {
        const message = { type: "chat.message", payload: { text }, metadata: { event_id: `c-${Date.now()}` } };
        socket.send(JSON.stringify(message));
      } else if (frame.type === "nexus.ack") {
        socket.close(1000);
        resolve();
      } else if (frame.type === "nexus.error") {
        reject(new Error(`${user}'s message refused: ${frame.payload.code}`));
      }
    });
    socket.on("error", reject);
  });
}

const scenarios = {
  // Join, chat (acked, and delivered back), search (results shown), leave, join again as
  // the same user: the page resumes on its connection and sees what it missed.
  async roundTrip(ui) {
    ui.join("alice", args.token);
    await until("connected", () => ui.status().state === "connected");
    const first = await until("the welcome", () => ui.welcome());
    ui.chat("hello from the page");
    const acked = await until("the chat message acked", () =>
      ui.entries().find((e) => e.direction === "out" && e.outcome === "acked"),
    );
    const echoed = await until("the chat message delivered back", () =>
      ui.entries().find((e) => e.direction === "in" && e.type === "chat.message"),
    );
    ui.search(args.query);
    await until("search results", () => ui.$("results").dataset.state === "completed");
    const hits = ui.$("results").querySelectorAll(".hit").length;
    ui.leave();
    await until("disconnected", () => ui.status().state === "disconnected");
    // Written by another member while the page is away: the rejoin must replay it.
    await sendAs("carol", args.otherToken, "written while alice was away");
    ui.join("alice", args.token);
    await until("connected again", () => ui.status().state === "connected");
    const again = await until("the second welcome", () =>
      ui.welcome()?.connection === first.connection && ui.welcome(),
    );
    const missed = await until("the missed event", () =>
      ui.entries().find((e) => e.direction === "in" && e.text.includes("while alice was away")),
    );
    return { first, acked, echoed, hits, again, missed };
  },

  // Two messages at once where the user may send one per two seconds: the second is
  // refused as rate_limited and resent once the wait the gateway named has passed.
  async rateLimited(ui) {
    ui.join("dave", args.token);
    await until("connected", () => ui.status().state === "connected");
    const sent = (text) => ui.entries().find((e) => e.direction === "out" && e.text.includes(text));
    ui.chat("first of two");
    await until("the first acked", () => sent("first of two")?.outcome === "acked");
    ui.chat("second of two");
    const waiting = await until("the second refused", () =>
      sent("second of two")?.result.startsWith("rate_limited") && sent("second of two"),
    );
    const acked = await until("the second acked", () => sent("second of two")?.outcome === "acked" && sent("second of two"));
    return { waiting: waiting.result, acked: acked.result };
  },

  // A join the gateway refuses at the handshake (here a wrong path: 404), which a browser
  // reports as 1006 like a dropped connection: the page gives up and says what to check,
  // instead of "connection lost; reconnecting" for ever.
  async neverConnects(ui) {
    ui.join("erin", args.token, `${gatewayUrl}/oops`);
    const failed = await until("the page giving up", () => ui.status().state === "failed" && ui.status(), 40_000);
    const notes = ui.entries().filter((e) => e.type === "note").map((e) => e.text);
    return { failed, notes };
  },

  // A token that expires: 4001 ends the session and the page says to join again; a new
  // token resumes where it was.
  async expiredToken(ui) {
    ui.join("bob", args.shortToken);
    await until("connected", () => ui.status().state === "connected");
    const first = await until("the welcome", () => ui.welcome());
    const failed = await until("the 4001 close", () => ui.status().state === "failed" && ui.status(), 30_000);
    const note = ui.entries().find((e) => e.type === "note" && e.text.includes("new token"));
    ui.join("bob", args.token);
    await until("connected again", () => ui.status().state === "connected");
    const again = await until("the second welcome", () =>
      ui.welcome()?.connection === first.connection && ui.welcome(),
    );
    return { failed, note: note?.text ?? null, again };
  },
};

const ui = page(loadPage());
const run = scenarios[scenario];
if (!run) {
  console.log(JSON.stringify({ failed: `no scenario ${scenario}` }));
  process.exit(2);
}
console.log(JSON.stringify(await run(ui)));
process.exit(0);
