using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Hosting;
using LlmMarketplace.Insights.Analytics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

// Analytics benchmark: a year of rollups for a busy deployment (the embedded SQLite), then the latency of the
// analytics endpoints through the real host over HTTP; beside it, the peer: grouping raw usage records
// (GET /api/v1/usage?groupBy=model) over one day of raw records.
// Usage: dotnet run -c Release --project bench/analytics -- [--days 365] [--keys 120] [--requests-per-day 5000000] [--raw 1000000] [--runs 20]

var days = Int("--days", 365);
var keys = Int("--keys", 120);
var requestsPerDay = Int("--requests-per-day", 5_000_000);
var rawRecords = Int("--raw", 1_000_000);
var runs = Int("--runs", 20);
const int Models = 8;

var data = Path.Combine(Path.GetTempPath(), "llmm-analytics-bench-" + Guid.NewGuid().ToString("N"));
Directory.CreateDirectory(data);
var masterKey = "mk-" + Guid.NewGuid().ToString("N");
var config = Path.Combine(data, "config.yaml");
await File.WriteAllTextAsync(config, "Providers: []\nModels: []\n");
var app = MarketplaceApp.Build(new HostSettings
{
    ConfigFile = config,
    DataDirectory = data,
    Urls = "http://127.0.0.1:0",
    MasterKey = masterKey,
    Overrides = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning", ["Insights:DayRetention"] = "00:00:00",
        // The raw records are for the peer only: keep the rollup worker from folding them in during the run.
        ["Insights:RollupInterval"] = "1.00:00:00" },
});
await app.StartAsync();
try
{
    var database = app.Services.GetRequiredService<Database>();
    var now = DateTimeOffset.UtcNow;
    var end = Granularity.Floor(now.ToUnixTimeMilliseconds(), Granularity.Hour);
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; storage: SQLite (WAL) in a temp directory");
    Console.WriteLine($"synthetic deployment: {keys} keys in {keys / 6} teams, {Models} models, {requestsPerDay:N0} requests/day, {days} days");

    var sw = Stopwatch.StartNew();
    var rows = await GenerateRollupsAsync(database, end, days, keys, requestsPerDay);
    Console.WriteLine($"rollup rows: day {rows.Day:N0}, hour {rows.Hour:N0} (90 days), minute {rows.Minute:N0} (2 days); written in {sw.Elapsed.TotalSeconds:0.0} s; database {new FileInfo(Path.Combine(data, Database.SqliteFileName)).Length / (1 << 20):N0} MiB");
    sw.Restart();
    if (rawRecords > 0) await GenerateRawUsageAsync(database, end, rawRecords);
    Console.WriteLine($"raw usage records (last 24 h, for the peer): {rawRecords:N0}; written in {sw.Elapsed.TotalSeconds:0.0} s");

    var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    using var client = new HttpClient { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromMinutes(5) };
    client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", masterKey);
    string Iso(long ms) => Uri.EscapeDataString(DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("O", CultureInfo.InvariantCulture));
    var nowMs = now.ToUnixTimeMilliseconds();
    var yearAgo = nowMs - (days * 86_400_000L);
    var day = 86_400_000L;
    var queries = new (string Name, string Path)[]
    {
        ("summary, 365 days, with p50/p95/p99", $"api/v1/analytics/summary?from={Iso(yearAgo + 1234567)}&to={Iso(nowMs)}"),
        ("summary, 365 days, sums only", $"api/v1/analytics/summary?percentiles=false&from={Iso(yearAgo + 1234567)}&to={Iso(nowMs)}"),
        ("time series per day, 365 days", $"api/v1/analytics/timeseries?interval=day&from={Iso(yearAgo)}&to={Iso(nowMs)}"),
        ("time series per day, 365 days, top 5 models", $"api/v1/analytics/timeseries?interval=day&groupBy=model&limit=5&from={Iso(yearAgo)}&to={Iso(nowMs)}"),
        ("time series per hour, 7 days, top 10 keys", $"api/v1/analytics/timeseries?interval=hour&groupBy=key&limit=10&from={Iso(nowMs - 7 * day)}&to={Iso(nowMs)}"),
        ("time series per minute, 6 hours", $"api/v1/analytics/timeseries?interval=minute&from={Iso(nowMs - 6 * 3_600_000L)}&to={Iso(nowMs)}"),
        ("top 10 keys by cost, 365 days", $"api/v1/analytics/breakdown?by=key&limit=10&from={Iso(yearAgo)}&to={Iso(nowMs)}"),
        ("top 10 deployments by p95 latency, 30 days", $"api/v1/analytics/breakdown?by=deployment&orderBy=latency&from={Iso(nowMs - 30 * day)}&to={Iso(nowMs)}"),
        ("one team by model, 90 days", $"api/v1/analytics/breakdown?by=model&team=team-3&from={Iso(nowMs - 90 * day)}&to={Iso(nowMs)}"),
        ("CSV, all keys, 365 days", $"api/v1/analytics/breakdown?by=key&limit=10000&format=csv&from={Iso(yearAgo)}&to={Iso(nowMs)}"),
        ("analytics by model, last 24 h", $"api/v1/analytics/breakdown?by=model&from={Iso(nowMs - day)}&to={Iso(nowMs)}"),
        ("peer: raw usage grouped by model, last 24 h", $"api/v1/usage?groupBy=model&from={Iso(nowMs - day)}&to={Iso(nowMs)}"),
    };
    Console.WriteLine();
    Console.WriteLine($"| query | runs | p50 (ms) | p95 (ms) | max (ms) | response bytes |");
    Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
    foreach (var (name, path) in queries)
    {
        var n = name.StartsWith("peer", StringComparison.Ordinal) ? Math.Max(3, runs / 5) : runs;
        var times = new List<double>();
        long bytes = 0;
        using (var warm = await client.GetAsync(path)) warm.EnsureSuccessStatusCode();
        for (var i = 0; i < n; i++)
        {
            var t = Stopwatch.GetTimestamp();
            using var response = await client.GetAsync(path);
            var body = await response.Content.ReadAsByteArrayAsync();
            times.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            response.EnsureSuccessStatusCode();
            bytes = body.Length;
        }
        times.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {n} | {times[(int)(0.5 * (n - 1))]:0.0} | {times[(int)Math.Ceiling(0.95 * (n - 1))]:0.0} | {times[^1]:0.0} | {bytes:N0} |"));
    }
}
finally
{
    await app.StopAsync();
    await app.DisposeAsync();
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    try { Directory.Delete(data, true); } catch (IOException) { }
}

static int Int(string name, int fallback)
{
    var args = Environment.GetCommandLineArgs();
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

// Combinations a busy deployment has in a bucket: every key on two models, models on one or two deployments.
static List<(string Team, string App, string Key, string Model, string Listing, string Deployment, string Provider, double Share)> Combos(int keys, int models)
{
    var list = new List<(string, string, string, string, string, string, string, double)>();
    for (var k = 0; k < keys; k++)
    {
        foreach (var m in new[] { k % models, ((k * 3) + 1) % models })
        {
            var model = $"model-{m}";
            var listing = m < 4 ? $"acme/model-{m}@1.0.0" : "";
            var deployments = m % 2 == 0 ? new[] { (m % 4, 0.7), ((m + 1) % 4, 0.3) } : [(m % 4, 1.0)];
            foreach (var (p, share) in deployments)
            {
                list.Add(($"team-{k / 6}", $"app-{k / 2}", $"key-{k}", model, listing, $"provider-{p}/{model}", $"provider-{p}", share / (keys * 2)));
            }
        }
    }
    return list;
}

// Realistic sketches: latencies log-normal around a per-model median; as many samples as a bucket of that size holds
// distinct bins for (pre-built pools, picked per row).
static byte[][] SketchPool(Random random, double median, int samples, int count)
{
    var pool = new byte[count][];
    for (var i = 0; i < count; i++)
    {
        var s = new DDSketch();
        for (var j = 0; j < samples; j++)
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            s.Add(median * Math.Exp(0.6 * normal));
        }
        pool[i] = s.ToBytes();
    }
    return pool;
}

static async Task<(long Day, long Hour, long Minute)> GenerateRollupsAsync(Database database, long endHourMs, int days, int keys, int requestsPerDay)
{
    var random = new Random(7);
    var combos = Combos(keys, Models);
    var pools = new Dictionary<(string, int), (byte[][] Latency, byte[][] Ttft)>();
    for (var m = 0; m < Models; m++)
    {
        var median = 300 + (m * 250);
        pools[("d", m)] = (SketchPool(random, median, 600, 16), SketchPool(random, median / 4, 600, 16));
        pools[("h", m)] = (SketchPool(random, median, 150, 16), SketchPool(random, median / 4, 150, 16));
        pools[("m", m)] = (SketchPool(random, median, 12, 16), SketchPool(random, median / 4, 12, 16));
    }
    long dayRows = 0, hourRows = 0, minuteRows = 0;
    await using var connection = await database.OpenAsync();
    await using (var pragma = connection.CreateCommand())
    {
        pragma.CommandText = "PRAGMA synchronous=OFF;";
        await pragma.ExecuteNonQueryAsync();
    }
    var endDay = Granularity.Floor(endHourMs, Granularity.Day) + 86_400_000L;
    for (var d = days - 1; d >= 0; d--) dayRows += await InsertAsync(connection, "d", endDay - ((d + 1) * 86_400_000L), combos, requestsPerDay, 1.0, pools, random);
    for (var h = Math.Min(days, 90) * 24; h >= 0; h--) hourRows += await InsertAsync(connection, "h", endHourMs - (h * 3_600_000L), combos, requestsPerDay, 1.0 / 24, pools, random);
    // Minute buckets: at most 40 combinations are active in any one minute.
    var endMinute = Granularity.Floor(endHourMs + 3_600_000L, Granularity.Minute);
    for (var mi = 2 * 1440; mi >= 0; mi--)
    {
        var active = combos.OrderBy(_ => random.Next()).Take(40).ToList();
        minuteRows += await InsertAsync(connection, "m", endMinute - (mi * 60_000L), active, requestsPerDay, 1.0 / 1440 * combos.Count / 40, pools, random);
    }
    // Per-bucket totals and per-dimension sums (what the rollup worker writes beside the rows), with a sketch merged over every model.
    foreach (var g in new[] { "d", "h", "m" })
    {
        var total = new DDSketch();
        for (var m = 0; m < Models; m++) foreach (var bytes in pools[(g, m)].Latency.Take(4)) total.MergeBytes(bytes);
        var totalBytes = total.ToBytes();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT OR REPLACE INTO insights_rollup_totals (granularity, bucket_ms, requests, prompt_tokens, completion_tokens, cached_tokens, cost_usd,
                errors_client, errors_rate_limited, errors_server, cache_hits, latency_sketch, ttft_sketch)
            SELECT granularity, bucket_ms, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(cost_usd),
                SUM(errors_client), SUM(errors_rate_limited), SUM(errors_server), SUM(cache_hits), $sketch, $sketch
            FROM insights_rollups WHERE granularity = $g GROUP BY granularity, bucket_ms
            """;
        var sketch = command.CreateParameter();
        sketch.ParameterName = "$sketch";
        sketch.Value = totalBytes;
        command.Parameters.Add(sketch);
        var gp = command.CreateParameter();
        gp.ParameterName = "$g";
        gp.Value = g;
        command.Parameters.Add(gp);
        await command.ExecuteNonQueryAsync();
        foreach (var (dimension, column) in new[] { ("team", "team_id"), ("app", "app_id"), ("key", "key_id"), ("model", "model"), ("listing", "listing"), ("deployment", "deployment"), ("provider", "provider") })
        {
            command.CommandText = $"""
                INSERT OR REPLACE INTO insights_rollup_dimensions (granularity, bucket_ms, dimension, value, requests, prompt_tokens, completion_tokens, cached_tokens, cost_usd,
                    errors_client, errors_rate_limited, errors_server, cache_hits, latency_sketch, ttft_sketch)
                SELECT granularity, bucket_ms, '{dimension}', {column}, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(cost_usd),
                    SUM(errors_client), SUM(errors_rate_limited), SUM(errors_server), SUM(cache_hits), $sketch, $sketch
                FROM insights_rollups WHERE granularity = $g GROUP BY granularity, bucket_ms, {column}
                """;
            await command.ExecuteNonQueryAsync();
        }
        await transaction.CommitAsync();
    }
    return (dayRows, hourRows, minuteRows);
}

static async Task<int> InsertAsync(DbConnection connection, string granularity, long bucket,
    List<(string Team, string App, string Key, string Model, string Listing, string Deployment, string Provider, double Share)> combos,
    int requestsPerDay, double fraction, Dictionary<(string, int), (byte[][] Latency, byte[][] Ttft)> pools, Random random)
{
    await using var transaction = await connection.BeginTransactionAsync();
    await using var command = connection.CreateCommand();
    command.Transaction = transaction;
    command.CommandText = """
        INSERT OR REPLACE INTO insights_rollups (granularity, bucket_ms, team_id, app_id, key_id, model, listing, deployment, provider, requests, prompt_tokens,
            completion_tokens, cached_tokens, cost_usd, errors_client, errors_rate_limited, errors_server, cache_hits, latency_sketch, ttft_sketch)
        VALUES ($g, $b, $team, $app, $key, $model, $listing, $deployment, $provider, $requests, $prompt, $completion, $cached, $cost, $e4, $e429, $e5, $hits, $lat, $ttft)
        """;
    var names = new[] { "$g", "$b", "$team", "$app", "$key", "$model", "$listing", "$deployment", "$provider", "$requests", "$prompt", "$completion", "$cached", "$cost", "$e4", "$e429", "$e5", "$hits", "$lat", "$ttft" };
    var p = names.Select(n => { var x = command.CreateParameter(); x.ParameterName = n; command.Parameters.Add(x); return x; }).ToArray();
    command.Prepare();
    foreach (var c in combos)
    {
        var requests = Math.Max(1, (long)(requestsPerDay * fraction * c.Share * (0.6 + (0.8 * random.NextDouble()))));
        var m = c.Model[^1] - '0';
        var pool = pools[(granularity, m)];
        p[0].Value = granularity; p[1].Value = bucket; p[2].Value = c.Team; p[3].Value = c.App; p[4].Value = c.Key; p[5].Value = c.Model;
        p[6].Value = c.Listing; p[7].Value = c.Deployment; p[8].Value = c.Provider; p[9].Value = requests; p[10].Value = requests * 900;
        p[11].Value = requests * 250; p[12].Value = requests * 100; p[13].Value = requests * (0.0004 + (m * 0.0003));
        p[14].Value = requests / 200; p[15].Value = requests / 500; p[16].Value = requests / 300; p[17].Value = requests / 20;
        p[18].Value = pool.Latency[random.Next(pool.Latency.Length)]; p[19].Value = pool.Ttft[random.Next(pool.Ttft.Length)];
        await command.ExecuteNonQueryAsync();
    }
    await transaction.CommitAsync();
    return combos.Count;
}

static async Task GenerateRawUsageAsync(Database database, long endHourMs, int count)
{
    var random = new Random(11);
    await using var connection = await database.OpenAsync(Database.UsageFile);
    await using var transaction = await connection.BeginTransactionAsync();
    await using var command = connection.CreateCommand();
    command.Transaction = transaction;
    command.CommandText = """
        INSERT INTO access_usage (request_id, at_ms, operation, key_id, app_id, team_id, user_id, subscription_id, model, provider, deployment,
            prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms, status, cache, stream)
        VALUES ($id, $at, 'chat', $key, $app, $team, NULL, NULL, $model, 'provider-1', $deployment, 900, 250, 100, 0, 0.001, $latency, NULL, 200, 'BYPASS', 0)
        """;
    var names = new[] { "$id", "$at", "$key", "$app", "$team", "$model", "$deployment", "$latency" };
    var p = names.Select(n => { var x = command.CreateParameter(); x.ParameterName = n; command.Parameters.Add(x); return x; }).ToArray();
    command.Prepare();
    for (var i = 0; i < count; i++)
    {
        var k = random.Next(120);
        var m = random.Next(Models);
        p[0].Value = "req_" + i.ToString(CultureInfo.InvariantCulture); p[1].Value = endHourMs - random.NextInt64(86_400_000L);
        p[2].Value = $"key-{k}"; p[3].Value = $"app-{k / 2}"; p[4].Value = $"team-{k / 6}"; p[5].Value = $"model-{m}";
        p[6].Value = $"provider-1/model-{m}"; p[7].Value = 200 + random.NextDouble() * 1000;
        await command.ExecuteNonQueryAsync();
    }
    await transaction.CommitAsync();
}
