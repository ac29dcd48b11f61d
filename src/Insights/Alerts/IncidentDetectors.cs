using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.BuildingBlocks.Hosting;
using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Alerts;

/// <summary>
/// Watches usage for incidents and raises and resolves alerts:
/// a deployment's server-error rate over a window; a deployment's per-minute mean latency, or a model's per-minute
/// cost, against an EWMA baseline of earlier minutes (the baseline does not learn from minutes that spike); a provider
/// whose every call failed over a window; and budgets crossing their alert threshold. Thresholds come from
/// <see cref="AlertOptions"/>, overridable per scope. State is in memory on the replica that rolls usage up; open alerts
/// are read back on start so they resolve after a restart too.
/// </summary>
internal sealed class IncidentDetectors(AlertService alerts, AlertOptions options, TimeProvider time, AccessEvents accessEvents, ILogger<IncidentDetectors> logger)
    : PeriodicWorker(time, logger), IUsageObserver
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly SemaphoreSlim _evaluating = new(1, 1);
    private readonly Dictionary<string, Series> _deployments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Series> _models = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Series> _providers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _firing = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _providerOfDeployment = new(StringComparer.Ordinal);

    private sealed class Minute
    {
        public long Requests;
        public long ServerErrors;
        public double LatencySum;
        public double Cost;
    }

    /// <summary>Per-minute buckets of one scope and the baselines learnt from its closed minutes.</summary>
    private sealed class Series
    {
        public readonly SortedDictionary<long, Minute> Minutes = [];
        public long FoldedUpTo = long.MinValue;
        public double LatencyBaseline;
        public int LatencyMinutes;
        public double CostBaseline;
        public int CostMinutes;

        public Minute At(long minute)
        {
            if (!Minutes.TryGetValue(minute, out var m)) Minutes[minute] = m = new Minute();
            return m;
        }

        public (long Requests, long Errors) Sum(long fromMinute)
        {
            long requests = 0, errors = 0;
            foreach (var (minute, m) in Minutes)
            {
                if (minute < fromMinute) continue;
                requests += m.Requests;
                errors += m.ServerErrors;
            }
            return (requests, errors);
        }
    }

    protected override TimeSpan Interval => options.EvaluationInterval;

    protected override bool RunAtStart => false;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var fingerprint in await alerts.OpenFingerprintsAsync(cancellationToken)) _firing.Add(fingerprint);
        if (options.BudgetAlerts) accessEvents.BudgetAlert += OnBudgetAlert;
        await base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        accessEvents.BudgetAlert -= OnBudgetAlert;
        return base.StopAsync(cancellationToken);
    }

    protected override Task RunAsync(CancellationToken cancellationToken) => EvaluateAsync(cancellationToken);

    protected override void OnFailed(Exception exception) => Log.DetectorsFailed(Logger, exception);

    public async ValueTask ObserveAsync(IReadOnlyList<UsageEvent> batch, CancellationToken cancellationToken)
    {
        // Records from long ago (a backlog being rolled up) are history, not incidents.
        var oldestMs = Time.GetUtcNow().ToUnixTimeMilliseconds() - (long)Math.Max(options.ErrorRateWindow.TotalMilliseconds, options.UnavailableWindow.TotalMilliseconds) - 600_000;
        await _lock.WaitAsync(cancellationToken);
        try
        {
            foreach (var e in batch)
            {
                if (e.AtMs < oldestMs) continue;
                var minute = Granularity.Floor(e.AtMs, Granularity.Minute);
                var serverError = e.Status >= 500;
                if (e.Deployment is { Length: > 0 } deployment)
                {
                    var m = SeriesOf(_deployments, deployment).At(minute);
                    m.Requests++;
                    if (serverError) m.ServerErrors++;
                    m.LatencySum += e.LatencyMs;
                    if (e.Provider is { Length: > 0 } p) _providerOfDeployment[deployment] = p;
                }
                if (e.Provider is { Length: > 0 } provider)
                {
                    var m = SeriesOf(_providers, provider).At(minute);
                    m.Requests++;
                    if (serverError) m.ServerErrors++;
                }
                var model = SeriesOf(_models, e.Model).At(minute);
                model.Requests++;
                model.Cost += (double)e.CostUsd;
            }
        }
        finally
        {
            _lock.Release();
        }
        await EvaluateAsync(cancellationToken);
    }

    /// <summary>Judges every scope now: opens alerts for conditions that hold, resolves those that cleared.</summary>
    public async Task EvaluateAsync(CancellationToken cancellationToken)
    {
        // One evaluation at a time (usage batches and the ticker both evaluate): they share the firing set.
        await _evaluating.WaitAsync(cancellationToken);
        try
        {
            await EvaluateCoreAsync(cancellationToken);
        }
        finally
        {
            _evaluating.Release();
        }
    }

    private async Task EvaluateCoreAsync(CancellationToken cancellationToken)
    {
        var signals = new List<AlertSignal>();
        var cleared = new List<string>();
        await _lock.WaitAsync(cancellationToken);
        try
        {
            var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
            var currentMinute = Granularity.Floor(nowMs, Granularity.Minute);
            foreach (var (deployment, series) in _deployments)
            {
                var scope = "deployment:" + deployment;
                var group = _providerOfDeployment.TryGetValue(deployment, out var p) ? "provider:" + p : scope;
                var overrides = Overrides(scope);
                if (overrides?.Disabled == true) continue;
                ErrorRate(scope, group, series, nowMs, overrides, signals, cleared);
                Spikes(scope, group, series, currentMinute, latency: true, overrides?.LatencyFactor ?? options.LatencyFactor, signals, cleared);
            }
            foreach (var (model, series) in _models)
            {
                var scope = "model:" + model;
                var overrides = Overrides(scope);
                if (overrides?.Disabled == true) continue;
                Spikes(scope, scope, series, currentMinute, latency: false, overrides?.CostFactor ?? options.CostFactor, signals, cleared);
            }
            foreach (var (provider, series) in _providers)
            {
                var scope = "provider:" + provider;
                if (Overrides(scope)?.Disabled == true) continue;
                var (requests, errors) = series.Sum(Granularity.Floor(nowMs - (long)options.UnavailableWindow.TotalMilliseconds, Granularity.Minute));
                var fingerprint = AlertTypes.ProviderUnavailable + "|" + scope;
                if (requests >= options.UnavailableMinRequests && errors == requests)
                {
                    signals.Add(new AlertSignal(AlertTypes.ProviderUnavailable, scope, scope, "critical",
                        $"Every one of the last {requests} calls to provider {provider} failed.", 1.0, 1.0));
                }
                else if (requests > errors && _firing.Contains(fingerprint))
                {
                    cleared.Add(fingerprint);
                }
            }
            Trim(nowMs);
        }
        finally
        {
            _lock.Release();
        }
        foreach (var signal in signals)
        {
            await alerts.FireAsync(signal, cancellationToken);
            _firing.Add(signal.Fingerprint);
        }
        foreach (var fingerprint in cleared)
        {
            await alerts.ResolveAsync(fingerprint, cancellationToken);
            _firing.Remove(fingerprint);
        }
    }

    private void ErrorRate(string scope, string group, Series series, long nowMs, ScopeThresholds? overrides, List<AlertSignal> signals, List<string> cleared)
    {
        var threshold = overrides?.ErrorRateThreshold ?? options.ErrorRateThreshold;
        var minRequests = overrides?.ErrorRateMinRequests ?? options.ErrorRateMinRequests;
        var (requests, errors) = series.Sum(Granularity.Floor(nowMs - (long)options.ErrorRateWindow.TotalMilliseconds, Granularity.Minute) + Granularity.Millis(Granularity.Minute));
        var fingerprint = AlertTypes.ErrorRate + "|" + scope;
        var rate = requests == 0 ? 0 : (double)errors / requests;
        if (requests >= minRequests && rate > threshold)
        {
            signals.Add(new AlertSignal(AlertTypes.ErrorRate, scope, group, "critical",
                string.Create(CultureInfo.InvariantCulture, $"{errors} of {requests} calls to {scope} failed over {options.ErrorRateWindow.TotalMinutes:0.#} min ({rate:P1} > {threshold:P1})."), rate, threshold));
        }
        else if (_firing.Contains(fingerprint) && (requests == 0 || (requests >= minRequests && rate <= threshold)))
        {
            cleared.Add(fingerprint);
        }
    }

    /// <summary>Folds every closed minute into the baseline, judging it against the baseline first.</summary>
    private void Spikes(string scope, string group, Series series, long currentMinute, bool latency, double factor, List<AlertSignal> signals, List<string> cleared)
    {
        var type = latency ? AlertTypes.LatencySpike : AlertTypes.CostSpike;
        var fingerprint = type + "|" + scope;
        foreach (var (minute, m) in series.Minutes)
        {
            if (minute >= currentMinute) break;
            if (minute <= series.FoldedUpTo) continue;
            series.FoldedUpTo = minute;
            if (m.Requests == 0) continue;
            if (latency && m.Requests < options.SpikeMinRequests) continue;
            var value = latency ? m.LatencySum / m.Requests : m.Cost;
            ref var baseline = ref latency ? ref series.LatencyBaseline : ref series.CostBaseline;
            ref var learnt = ref latency ? ref series.LatencyMinutes : ref series.CostMinutes;
            var warm = learnt >= options.BaselineWarmupMinutes && baseline > 0;
            if (warm && value > factor * baseline)
            {
                var what = latency ? "mean latency" : "cost per minute";
                signals.Add(new AlertSignal(type, scope, group, "warning",
                    string.Create(CultureInfo.InvariantCulture, $"The {what} of {scope} was {value:0.######}, over {factor:0.##}x its baseline {baseline:0.######}."), value, factor * baseline));
                continue;
            }
            if (warm && _firing.Contains(fingerprint)) cleared.Add(fingerprint);
            baseline = learnt == 0 ? value : (options.BaselineAlpha * value) + ((1 - options.BaselineAlpha) * baseline);
            learnt++;
        }
    }

    private void Trim(long nowMs)
    {
        var keep = Granularity.Floor(nowMs - (long)Math.Max(options.ErrorRateWindow.TotalMilliseconds, options.UnavailableWindow.TotalMilliseconds) - 120_000, Granularity.Minute);
        foreach (var series in _deployments.Values.Concat(_models.Values).Concat(_providers.Values))
        {
            while (series.Minutes.Count > 0)
            {
                var first = series.Minutes.Keys.First();
                if (first >= keep || first > series.FoldedUpTo) break;
                series.Minutes.Remove(first);
            }
        }
    }

    private ScopeThresholds? Overrides(string scope) => options.Scopes.GetValueOrDefault(scope);

    private static Series SeriesOf(Dictionary<string, Series> all, string key)
    {
        if (!all.TryGetValue(key, out var s)) all[key] = s = new Series();
        return s;
    }

    private void OnBudgetAlert(BudgetAlert alert)
    {
        var scope = $"budget:{alert.BudgetId}";
        var signal = new AlertSignal(AlertTypes.Budget, scope, $"{alert.Scope}:{alert.ScopeId}", "warning",
            string.Create(CultureInfo.InvariantCulture, $"The {alert.Period} budget of {alert.Scope} {alert.ScopeId} crossed its alert threshold."), 1, 1);
        // Raised on the request path: record it without holding the call up.
        _ = Task.Run(async () =>
        {
            try
            {
                await alerts.FireAsync(signal, CancellationToken.None);
            }
            catch (Exception ex)
            {
                Log.DetectorsFailed(Logger, ex);
            }
        });
    }
}
