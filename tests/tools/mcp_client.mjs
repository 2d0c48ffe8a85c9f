// The official MCP TypeScript SDK's client against driftdeck (tests/it/mcp.rs):
//   node mcp_client.mjs stdio /path/to/driftdeck   (spawns `driftdeck mcp`)
//   node mcp_client.mjs http http://127.0.0.1:PORT/mcp   (MCP_TOKEN: the bearer token)
// MCP_SDK is the SDK's directory. Prints one JSON line: what the server answered.
const sdk = process.env.MCP_SDK;
const { Client } = await import(`${sdk}/dist/esm/client/index.js`);
const { ElicitRequestSchema } = await import(`${sdk}/dist/esm/types.js`);

const [mode, target] = process.argv.slice(2);
let transport;
if (mode === "stdio") {
  const { StdioClientTransport } = await import(`${sdk}/dist/esm/client/stdio.js`);
  transport = new StdioClientTransport({ command: target, args: ["mcp"], env: process.env, stderr: "ignore" });
} else {
  const { StreamableHTTPClientTransport } = await import(`${sdk}/dist/esm/client/streamableHttp.js`);
  transport = new StreamableHTTPClientTransport(new URL(target), {
    requestInit: { headers: { Authorization: `Bearer ${process.env.MCP_TOKEN}` } },
  });
}
const client = new Client({ name: "sdk-client", version: "1.0.0" }, { capabilities: { elicitation: {} } });
let asked = 0;
let app = null;
client.setRequestHandler(ElicitRequestSchema, async (req) => {
  asked += 1;
  // The person reads the plan and types the app's name.
  if (!req.params.message.includes(`Type ${app}`)) return { action: "decline" };
  return { action: "accept", content: { confirm: app } };
});
await client.connect(transport);
const text = (r) => r.content[0].text;
const tools = (await client.listTools()).tools.map((t) => t.name);
const all = JSON.parse(text(await client.callTool({ name: "list_apps", arguments: {} })));
const out = { server: client.getServerVersion().name, tools, apps: all.total };
if (mode === "stdio") {
  const drifted = JSON.parse(text(await client.callTool({ name: "list_apps", arguments: { filter: "status:OutOfSync" } })));
  app = drifted.apps[0].name;
  const d = JSON.parse(text(await client.callTool({ name: "decide", arguments: { app } })));
  out.decision_mode = d.mode;
  out.explained = text(await client.callTool({ name: "explain_decision", arguments: { record: d.journal_record } }));
  out.sync = text(await client.callTool({ name: "sync_app", arguments: { app } }));
  out.asked = asked;
}
await client.close();
console.log(JSON.stringify(out));
