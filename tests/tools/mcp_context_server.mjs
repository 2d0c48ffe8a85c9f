// A small MCP server for tests/it/context.rs, written with the official MCP TypeScript SDK: a
// Prometheus-like `query` tool, `firing_alerts` and `open_incidents`.
//   node mcp_context_server.mjs stdio
//   node mcp_context_server.mjs http   (prints {"port": N}; MCP_TOKEN: the bearer token wanted)
// MCP_SDK is the SDK's directory. MCP_CONTEXT_DATA is a JSON file read on every call, so a test
// can change the answers while the server runs:
//   {"series": {"<query>": {"value": 12.5, "age_s": 0}}, "alerts": [...], "incidents": [...],
//    "delay_ms": 0, "error": null}
// Every call is appended to MCP_CONTEXT_LOG as a JSON line: {"pid", "tool", "arguments"}.
import { readFileSync, appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";

const sdk = process.env.MCP_SDK;
const { Server } = await import(`${sdk}/dist/esm/server/index.js`);
const { ListToolsRequestSchema, CallToolRequestSchema } = await import(`${sdk}/dist/esm/types.js`);

const data = () => JSON.parse(readFileSync(process.env.MCP_CONTEXT_DATA, "utf8"));
const text = (v) => ({ content: [{ type: "text", text: typeof v === "string" ? v : JSON.stringify(v) }] });

function makeServer() {
  const server = new Server({ name: "test-context", version: "1.0.0" }, { capabilities: { tools: {} } });
  const obj = (props) => ({ type: "object", properties: props });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      { name: "query", description: "An instant PromQL query", inputSchema: obj({ query: { type: "string" } }) },
      { name: "firing_alerts", description: "Firing alerts", inputSchema: obj({ service: { type: "string" } }) },
      { name: "open_incidents", description: "Open incidents", inputSchema: obj({ service: { type: "string" } }) },
    ],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const { name, arguments: args } = req.params;
    appendFileSync(process.env.MCP_CONTEXT_LOG, JSON.stringify({ pid: process.pid, tool: name, arguments: args }) + "\n");
    const d = data();
    if (d.delay_ms) await new Promise((r) => setTimeout(r, d.delay_ms));
    // Something on stderr, as servers do: it must never reach the operator's screen.
    process.stderr.write(`\x1b[2J called ${name}\n`);
    if (d.error) return { ...text(d.error), isError: true };
    const now = Date.now() / 1000;
    if (name === "query") {
      const s = (d.series || {})[args.query];
      const result = s ? [{ metric: {}, value: [now - (s.age_s || 0), String(s.value)] }] : [];
      return text({ status: "success", data: { resultType: "vector", result } });
    }
    if (name === "firing_alerts") return text((d.alerts || []).filter((a) => !args.service || a.labels.service === args.service));
    if (name === "open_incidents") return text({ incidents: (d.incidents || []).filter((i) => !args.service || i.service === args.service) });
    return { ...text(`no tool ${name}`), isError: true };
  });
  return server;
}

if (process.argv[2] === "stdio") {
  const { StdioServerTransport } = await import(`${sdk}/dist/esm/server/stdio.js`);
  await makeServer().connect(new StdioServerTransport());
} else {
  const { StreamableHTTPServerTransport } = await import(`${sdk}/dist/esm/server/streamableHttp.js`);
  const sessions = {};
  const http = createServer(async (req, res) => {
    if (req.headers.authorization !== `Bearer ${process.env.MCP_TOKEN}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
      return;
    }
    const sid = req.headers["mcp-session-id"];
    let t = sid && sessions[sid];
    if (!t) {
      t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { sessions[id] = t; },
      });
      await makeServer().connect(t);
    }
    await t.handleRequest(req, res);
  });
  http.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: http.address().port })));
}
