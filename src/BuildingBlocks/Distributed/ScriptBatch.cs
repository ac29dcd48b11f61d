using System.Collections.Concurrent;
using System.Text;
using StackExchange.Redis;

namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>
/// Lua scripts of one call sent to Redis as one script. While a batch is open on the current flow,
/// <see cref="EvaluateAsync"/> queues a script instead of sending it; closing the batch sends every queued script as one
/// <c>EVALSHA</c> that runs them in the order they were queued and returns each one's reply. A call that takes its rate
/// limit buckets and reserves its budgets therefore costs Redis one script call, not one per counter. The scripts keep
/// their own keys and arguments (each runs as a function of its own <c>KEYS</c> and <c>ARGV</c>), so code that queues
/// one does not know whether it went alone.
/// </summary>
/// <remarks>
/// <para>
/// Only what is started inside the batch and awaited after it closes may use it: awaiting a queued script before the
/// batch closes would wait forever. A script queued once the batch has closed (a continuation that captured the flow)
/// is sent on its own.
/// </para>
/// <para>
/// On a Redis Cluster one script may only touch keys of one slot, so scripts whose keys span several slots are sent one
/// by one. Each script runs protected (<c>pcall</c>): one that fails gives its caller Redis's error, as it would have
/// alone, and the others still run; like separate scripts, what a failed one wrote before its error stays written.
/// When the combined script cannot be sent or answered, every caller gets that failure.
/// </para>
/// </remarks>
public sealed class ScriptBatch : IDisposable
{
    private static readonly AsyncLocal<ScriptBatch?> s_current = new();

    // Every distinct script text gets a small id (the texts are constants, so they are looked up by reference), and
    // every sequence of ids its combined script, built once.
    private static readonly ConcurrentDictionary<string, int> s_ids = new(ReferenceEqualityComparer.Instance);
    private static readonly ConcurrentDictionary<string, string> s_combined = new(StringComparer.Ordinal);
    private static int s_lastId;

    private readonly RedisConnection _redis;
    private readonly ScriptBatch? _outer;
    private readonly List<Part> _parts = new(4);
    private bool _closed;

    private ScriptBatch(RedisConnection redis)
    {
        _redis = redis;
        _outer = s_current.Value;
        s_current.Value = this;
    }

    /// <summary>Opens a batch on the current flow; dispose it to send what was queued.</summary>
    public static ScriptBatch Open(RedisConnection redis) => new(redis);

    /// <summary>Runs <paramref name="script"/>: queued when a batch is open on this flow, sent at once otherwise.</summary>
    public static Task<RedisResult> EvaluateAsync(IDatabase db, string script, RedisKey[] keys, RedisValue[] args)
    {
        if (s_current.Value is { } batch)
        {
            lock (batch._parts)
            {
                if (!batch._closed)
                {
                    var part = new Part(script, keys, args);
                    batch._parts.Add(part);
                    return part.Reply.Task;
                }
            }
        }
        return db.ScriptEvaluateAsync(script, keys, args);
    }

    /// <summary>Closes the batch and sends what it holds.</summary>
    public void Dispose()
    {
        Part[] parts;
        lock (_parts)
        {
            if (_closed) return;
            _closed = true;
            parts = [.. _parts];
        }
        s_current.Value = _outer;
        if (parts.Length == 0) return;
        var db = _redis.Database;
        if (parts.Length == 1 || !OneSlot(parts))
        {
            foreach (var part in parts) Forward(Send(db, part.Script, part.Keys, part.Args), part);
            return;
        }
        var (script, keys, args) = Combine(parts);
        _ = DeliverAsync(Send(db, script, keys, args), parts);
    }

    private static Task<RedisResult> Send(IDatabase db, string script, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return db.ScriptEvaluateAsync(script, keys, args);
        }
        catch (Exception ex)
        {
            return Task.FromException<RedisResult>(ex);
        }
    }

    private static void Forward(Task<RedisResult> sent, Part part) =>
        sent.ContinueWith(static (t, state) =>
        {
            var reply = ((Part)state!).Reply;
            if (t.IsCompletedSuccessfully) reply.TrySetResult(t.Result);
            else reply.TrySetException(t.Exception?.InnerExceptions ?? [new TaskCanceledException()]);
        }, part, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static async Task DeliverAsync(Task<RedisResult> sent, Part[] parts)
    {
        RedisResult[] replies;
        try
        {
            replies = (RedisResult[])(await sent)!;
            if (replies.Length != parts.Length) throw new RedisException($"The combined script answered {replies.Length} replies for {parts.Length} scripts.");
        }
        catch (Exception ex)
        {
            foreach (var part in parts) part.Reply.TrySetException(ex);
            return;
        }
        for (var i = 0; i < parts.Length; i++)
        {
            // {1, reply} or {0, error}: a script that failed fails alone, as it would have on its own.
            var wrapped = (RedisResult[])replies[i]!;
            if ((long)wrapped[0] == 1) parts[i].Reply.TrySetResult(wrapped.Length > 1 ? wrapped[1] : RedisResult.Create(RedisValue.Null));
            else parts[i].Reply.TrySetException(new RedisServerException(RedisErrorKind.Unknown, CommandFlags.None, wrapped[1].ToString()!));
        }
    }

    /// <summary>Whether one script may touch every key: always on one Redis, on a cluster only when they share a slot.</summary>
    private bool OneSlot(Part[] parts)
    {
        if (!_redis.IsCluster) return true;
        var slot = -1;
        foreach (var part in parts)
        {
            foreach (var key in part.Keys)
            {
                var s = ClusterSlot.Of(key);
                if (slot < 0) slot = s;
                else if (s != slot) return false;
            }
        }
        return true;
    }

    // ARGV of the combined script: per script its number of keys and of arguments, then every script's arguments in
    // order; KEYS: every script's keys in order. It answers {1, reply} or {0, error} per script: Redis cannot nest an
    // error reply in an array the client accepts.
    private static (string Script, RedisKey[] Keys, RedisValue[] Args) Combine(Part[] parts)
    {
        var ids = new int[parts.Length];
        var keyCount = 0;
        var argCount = 2 * parts.Length;
        for (var i = 0; i < parts.Length; i++)
        {
            ids[i] = s_ids.GetOrAdd(parts[i].Script, static _ => Interlocked.Increment(ref s_lastId));
            keyCount += parts[i].Keys.Length;
            argCount += parts[i].Args.Length;
        }
        var keys = new RedisKey[keyCount];
        var args = new RedisValue[argCount];
        int k = 0, a = 2 * parts.Length;
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            args[2 * i] = part.Keys.Length;
            args[(2 * i) + 1] = part.Args.Length;
            part.Keys.CopyTo(keys, k);
            k += part.Keys.Length;
            part.Args.CopyTo(args, a);
            a += part.Args.Length;
        }
        var script = s_combined.GetOrAdd(string.Join(',', ids), static (_, parts) => Text(parts), parts);
        return (script, keys, args);
    }

    private static string Text(Part[] parts)
    {
        var text = new StringBuilder();
        var functions = new Dictionary<string, int>(ReferenceEqualityComparer.Instance);
        var calls = new StringBuilder();
        foreach (var part in parts)
        {
            if (!functions.TryGetValue(part.Script, out var f))
            {
                f = functions[part.Script] = functions.Count + 1;
                text.Append("local function f").Append(f).Append("(KEYS, ARGV)\n").Append(part.Script).Append("\nend\n");
            }
            calls.Append('f').Append(f).Append(", ");
        }
        text.Append("local parts = {").Append(calls).Append("}\n");
        text.Append("""
            local out = {}
            local k, a = 1, 2 * #parts + 1
            for i = 1, #parts do
              local nk, na = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
              local keys, argv = {}, {}
              for j = 1, nk do keys[j] = KEYS[k + j - 1] end
              for j = 1, na do argv[j] = ARGV[a + j - 1] end
              k, a = k + nk, a + na
              local ok, r = pcall(parts[i], keys, argv)
              if not ok then
                if type(r) == 'table' and r.err then r = r.err else r = 'ERR ' .. tostring(r) end
                out[i] = {0, r}
              elseif type(r) == 'table' and r.err then
                out[i] = {0, r.err}
              else
                out[i] = {1, r}
              end
            end
            return out
            """);
        return text.ToString();
    }

    private sealed class Part(string script, RedisKey[] keys, RedisValue[] args)
    {
        public string Script { get; } = script;

        public RedisKey[] Keys { get; } = keys;

        public RedisValue[] Args { get; } = args;

        public TaskCompletionSource<RedisResult> Reply { get; } = new();
    }
}
