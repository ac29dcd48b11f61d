// Checks the gateway with the official `openai` npm package, as a real client would use it.
//
// Environment:
//   GATEWAY_BASE_URL  e.g. http://127.0.0.1:5000/v1 (required)
//   GATEWAY_API_KEY   a key the gateway accepts (required)
//   CHAT_MODEL        a chat model the gateway serves (required)
//   EMBED_MODEL       an embedding model the gateway serves (required)
//   CLIENT_CHECKS     optional comma-separated subset of:
//                     chat,stream,tools,embeddings,models,auth_error,not_found_error,bad_request_error
//   CLIENT_TIMEOUT_MS optional per-request timeout (default 30000)
//
// Prints one JSON line per check: {"check": NAME, "ok": true|false, ...details or "error"},
// then exits 1 if any check failed (2 on a usage error), 0 otherwise.
import OpenAI from 'openai';

const env = process.env;
const missing = ['GATEWAY_BASE_URL', 'GATEWAY_API_KEY', 'CHAT_MODEL', 'EMBED_MODEL'].filter((n) => !env[n]);
if (missing.length > 0) {
  console.error(`openai-client.mjs: missing environment variables: ${missing.join(', ')}`);
  process.exit(2);
}

const baseURL = env.GATEWAY_BASE_URL;
const chatModel = env.CHAT_MODEL;
const embedModel = env.EMBED_MODEL;
const timeout = Number(env.CLIENT_TIMEOUT_MS || 30000);

const makeClient = (apiKey) => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout });
const client = makeClient(env.GATEWAY_API_KEY);

class CheckFailed extends Error {}
function expect(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

// Runs `call`, which must throw an instance of `errorClass` with HTTP status `status`.
async function expectApiError(call, errorClass, status) {
  try {
    await call();
  } catch (err) {
    expect(
      err instanceof errorClass,
      `expected ${errorClass.name}, got ${err?.constructor?.name}: ${err?.message}`,
    );
    expect(err.status === status, `expected status ${status}, got ${err.status}`);
    return { error_class: err.constructor.name, status: err.status, message: err.message };
  }
  throw new CheckFailed(`expected ${errorClass.name} (${status}), but the call succeeded`);
}

function isVector(v) {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

const checks = {
  // (a) Non-streaming chat: string content and a positive prompt token count.
  async chat() {
    const res = await client.chat.completions.create({
      model: chatModel,
      messages: [{ role: 'user', content: 'Hello from the official openai client' }],
    });
    const content = res.choices?.[0]?.message?.content;
    expect(typeof content === 'string', `choices[0].message.content is ${typeof content}, not a string`);
    expect(res.usage && res.usage.prompt_tokens > 0, `usage.prompt_tokens is not > 0: ${JSON.stringify(res.usage)}`);
    return { content, usage: res.usage, finish_reason: res.choices[0].finish_reason };
  },

  // (b) Streaming chat with include_usage: content deltas, then a final chunk carrying usage.
  async stream() {
    const stream = await client.chat.completions.create({
      model: chatModel,
      messages: [{ role: 'user', content: 'Stream a reply to this message, please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let deltas = 0;
    let chunks = 0;
    let usage = null;
    let usageChunkIndex = -1;
    let finishReason = null;
    for await (const chunk of stream) {
      chunks += 1;
      for (const choice of chunk.choices ?? []) {
        if (typeof choice.delta?.content === 'string' && choice.delta.content.length > 0) {
          text += choice.delta.content;
          deltas += 1;
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      if (chunk.usage) {
        usage = chunk.usage;
        usageChunkIndex = chunks - 1;
      }
    }
    expect(deltas > 0, 'no content delta was streamed');
    expect(usage !== null, 'no chunk carried usage although stream_options.include_usage was true');
    expect(usageChunkIndex === chunks - 1, `the usage chunk is #${usageChunkIndex}, not the last (#${chunks - 1})`);
    expect(usage.prompt_tokens > 0, `usage.prompt_tokens is not > 0: ${JSON.stringify(usage)}`);
    return { chunks, deltas, text, finish_reason: finishReason, usage };
  },

  // (c) A request offering a tool completes without error.
  async tools() {
    const res = await client.chat.completions.create({
      model: chatModel,
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Get the current weather for a location',
            parameters: {
              type: 'object',
              properties: { location: { type: 'string', description: 'City name' } },
              required: ['location'],
            },
          },
        },
      ],
    });
    const message = res.choices?.[0]?.message;
    expect(message, 'no choices[0].message in the response');
    return {
      finish_reason: res.choices[0].finish_reason,
      tool_calls: (message.tool_calls ?? []).map((c) => ({ name: c.function?.name, arguments: c.function?.arguments })),
      content: message.content,
    };
  },

  // (d) Embeddings of two strings: two vectors, with the package's default (base64) and with float.
  async embeddings() {
    const input = ['The quick brown fox', 'jumps over the lazy dog'];
    const result = {};
    for (const format of ['default', 'float']) {
      const params = { model: embedModel, input };
      if (format === 'float') params.encoding_format = 'float';
      const res = await client.embeddings.create(params);
      expect(Array.isArray(res.data) && res.data.length === 2, `${format}: expected 2 embeddings, got ${res.data?.length}`);
      res.data.forEach((d, i) =>
        expect(isVector(d.embedding), `${format}: data[${i}].embedding is not a vector of finite numbers`));
      const dims = res.data.map((d) => d.embedding.length);
      expect(dims[0] === dims[1], `${format}: vectors differ in size: ${dims}`);
      result[format] = { count: res.data.length, dims: dims[0], first: res.data[0].embedding.slice(0, 4), usage: res.usage };
    }
    return result;
  },

  // (e) The model list includes CHAT_MODEL, which can be retrieved.
  async models() {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids.includes(chatModel), `models.list() lacks ${chatModel}: ${JSON.stringify(ids)}`);
    const model = await client.models.retrieve(chatModel);
    expect(model.id === chatModel, `models.retrieve(${chatModel}) returned id ${model.id}`);
    return { ids, retrieved: model };
  },

  // (f) Errors map to the package's error classes.
  async auth_error() {
    const bad = makeClient('llmm-wrong-key-for-the-client-check');
    return expectApiError(
      () => bad.chat.completions.create({ model: chatModel, messages: [{ role: 'user', content: 'Hi' }] }),
      OpenAI.AuthenticationError,
      401,
    );
  },

  async not_found_error() {
    return expectApiError(
      () => client.chat.completions.create({
        model: 'no-such-model-for-the-client-check',
        messages: [{ role: 'user', content: 'Hi' }],
      }),
      OpenAI.NotFoundError,
      404,
    );
  },

  async bad_request_error() {
    return expectApiError(
      () => client.chat.completions.create({ model: chatModel, messages: [] }),
      OpenAI.BadRequestError,
      400,
    );
  },
};

const selected = env.CLIENT_CHECKS
  ? env.CLIENT_CHECKS.split(',').map((s) => s.trim()).filter(Boolean)
  : Object.keys(checks);
const unknown = selected.filter((name) => !(name in checks));
if (unknown.length > 0) {
  console.error(`openai-client.mjs: unknown checks: ${unknown.join(', ')} (known: ${Object.keys(checks).join(', ')})`);
  process.exit(2);
}

let failed = 0;
for (const name of selected) {
  const started = Date.now();
  try {
    const detail = await checks[name]();
    console.log(JSON.stringify({ check: name, ok: true, ms: Date.now() - started, ...detail }));
  } catch (err) {
    failed += 1;
    const error = err instanceof CheckFailed ? err.message : `${err?.constructor?.name}: ${err?.message}`;
    console.log(JSON.stringify({ check: name, ok: false, ms: Date.now() - started, error, status: err?.status }));
  }
}
process.exit(failed > 0 ? 1 : 0);
