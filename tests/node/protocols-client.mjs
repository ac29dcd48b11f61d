// Checks the gateway's Responses API with the official `openai` npm package and its Messages API with the official
// `@anthropic-ai/sdk` package, each changed only in its base URL.
//
// Environment: GATEWAY_ORIGIN (http://127.0.0.1:PORT), GATEWAY_API_KEY, CHAT_MODEL (all required).
// Prints one JSON line per check: {"check": NAME, "ok": true|false, ...}; exits 1 if any check failed.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const env = process.env;
for (const name of ['GATEWAY_ORIGIN', 'GATEWAY_API_KEY', 'CHAT_MODEL']) {
  if (!env[name]) { console.error(`protocols-client.mjs: missing ${name}`); process.exit(2); }
}
const model = env.CHAT_MODEL;
const openai = new OpenAI({ baseURL: `${env.GATEWAY_ORIGIN}/v1`, apiKey: env.GATEWAY_API_KEY, maxRetries: 0, timeout: 30000 });
const anthropic = new Anthropic({ baseURL: env.GATEWAY_ORIGIN, apiKey: env.GATEWAY_API_KEY, maxRetries: 0, timeout: 30000 });

class CheckFailed extends Error {}
function expect(condition, message) { if (!condition) throw new CheckFailed(message); }
const weather = { type: 'function', name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } };

const checks = {
  async responses_plain() {
    const r = await openai.responses.create({ model, input: 'Hello responses' });
    expect(r.object === 'response' && r.id.startsWith('resp_'), `not a response: ${JSON.stringify(r)}`);
    expect(r.status === 'completed', `status ${r.status}`);
    expect(r.output_text === 'Hello responses', `output_text ${r.output_text}`);
    expect(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, `usage ${JSON.stringify(r.usage)}`);
    return { id: r.id };
  },
  async responses_items() {
    const r = await openai.responses.create({
      model, instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Items work' }] }],
    });
    expect(r.output_text === 'Items work', `output_text ${r.output_text}`);
    expect(r.instructions === 'Be brief.', 'instructions not echoed');
    return {};
  },
  async responses_stream() {
    const stream = await openai.responses.create({ model, input: 'Streaming responses', stream: true });
    const types = [];
    let text = '';
    let completed;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(types[0] === 'response.created' && types[1] === 'response.in_progress', `first events ${types.slice(0, 2)}`);
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.output_item.done']) {
      expect(types.includes(t), `missing ${t}`);
    }
    expect(text === 'Streaming responses', `streamed text ${text}`);
    expect(completed && completed.usage.output_tokens > 0, 'response.completed without usage');
    return { events: types.length };
  },
  async responses_tool() {
    const r = await openai.responses.create({ model, input: 'Weather in Paris?', tools: [weather] });
    const call = r.output.find((o) => o.type === 'function_call');
    expect(call && call.name === 'get_weather', `no function_call: ${JSON.stringify(r.output)}`);
    expect(JSON.parse(call.arguments).location === 'Paris', `arguments ${call.arguments}`);
    const next = await openai.responses.create({
      model, previous_response_id: r.id, tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' }],
    });
    expect(next.output_text === 'Tool result received.', `after tool output: ${next.output_text}`);
    return {};
  },
  async responses_previous_and_retrieve() {
    const first = await openai.responses.create({ model, input: 'Remember me' });
    const second = await openai.responses.create({ model, input: 'And now', previous_response_id: first.id });
    expect(second.previous_response_id === first.id, 'previous_response_id not echoed');
    const got = await openai.responses.retrieve(second.id);
    expect(got.id === second.id && got.output_text === 'And now', `retrieved ${JSON.stringify(got)}`);
    const items = await openai.responses.inputItems.list(second.id);
    expect(items.data.length === 1 && items.data[0].content[0].text === 'And now', `input items ${JSON.stringify(items.data)}`);
    await openai.responses.delete(first.id);
    try { await openai.responses.retrieve(first.id); } catch (err) {
      expect(err instanceof OpenAI.NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}`);
      return {};
    }
    throw new CheckFailed('a deleted response was still retrieved');
  },
  async messages_create() {
    const m = await anthropic.messages.create({ model, max_tokens: 100, system: 'You are terse.', messages: [{ role: 'user', content: 'Hello messages' }] });
    expect(m.type === 'message' && m.role === 'assistant', `not a message: ${JSON.stringify(m)}`);
    expect(m.content[0].type === 'text' && m.content[0].text === 'Hello messages', `content ${JSON.stringify(m.content)}`);
    expect(m.stop_reason === 'end_turn', `stop_reason ${m.stop_reason}`);
    expect(m.usage.input_tokens > 0 && m.usage.output_tokens > 0, `usage ${JSON.stringify(m.usage)}`);
    return {};
  },
  async messages_stream() {
    const stream = anthropic.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'Streaming messages' }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    expect(text === 'Streaming messages', `streamed ${text}`);
    expect(final.stop_reason === 'end_turn' && final.usage.output_tokens > 0, `final ${JSON.stringify(final)}`);
    return {};
  },
  async messages_tools() {
    const m = await anthropic.messages.create({
      model, max_tokens: 100, messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ name: 'get_weather', description: 'Weather of a city', input_schema: weather.parameters }],
    });
    const use = m.content.find((b) => b.type === 'tool_use');
    expect(use && use.name === 'get_weather' && use.input.location === 'Paris', `content ${JSON.stringify(m.content)}`);
    expect(m.stop_reason === 'tool_use', `stop_reason ${m.stop_reason}`);
    const next = await anthropic.messages.create({
      model, max_tokens: 100,
      tools: [{ name: 'get_weather', input_schema: weather.parameters }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: m.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '21 degrees' }] },
      ],
    });
    expect(next.content[0].text === 'Tool result received.', `after tool_result ${JSON.stringify(next.content)}`);
    return {};
  },
  async messages_count_tokens() {
    const r = await anthropic.messages.countTokens({ model, messages: [{ role: 'user', content: 'Count these tokens please' }] });
    expect(Number.isInteger(r.input_tokens) && r.input_tokens > 0, `count ${JSON.stringify(r)}`);
    return { input_tokens: r.input_tokens };
  },
  async messages_auth_error() {
    const bad = new Anthropic({ baseURL: env.GATEWAY_ORIGIN, apiKey: 'sk-wrong-key', maxRetries: 0 });
    try { await bad.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }); } catch (err) {
      expect(err instanceof Anthropic.AuthenticationError, `expected AuthenticationError, got ${err?.constructor?.name}`);
      expect(err.error?.error?.type === 'authentication_error', `envelope ${JSON.stringify(err.error)}`);
      return {};
    }
    throw new CheckFailed('a wrong key was accepted');
  },
};

let failed = false;
for (const [name, run] of Object.entries(checks)) {
  try {
    console.log(JSON.stringify({ check: name, ok: true, ...(await run()) }));
  } catch (err) {
    failed = true;
    console.log(JSON.stringify({ check: name, ok: false, error: String(err?.stack || err) }));
  }
}
process.exit(failed ? 1 : 0);
