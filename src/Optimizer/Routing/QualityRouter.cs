using System.Collections.Concurrent;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Optimizer.Routing;

/// <summary>
/// The auto-router: per call it predicts, from features of the prompt, the chance each deployment's answer scores
/// well (one online logistic regression per deployment, learned from <c>POST /v1/feedback</c>) and sends the call to the
/// cheapest deployment whose predicted loss against the strongest (most expensive) one fits the model's quality target.
/// The allowance is fitted on the recent calls: the cheap answers with the smallest predicted losses are taken until
/// their summed loss reaches (1 − target) of the strong model's summed predicted quality.
/// </summary>
internal sealed class QualityRouter : IAutoRouter
{
    private readonly RouterOptions _options;
    private readonly TimeProvider _time;
    private readonly OptimizerMetrics _metrics;
    private readonly ConcurrentDictionary<string, ModelState> _models = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _pendingOrder = new();
    private readonly Random _random;
    private readonly Lock _randomLock = new();

    public QualityRouter(OptimizerOptions options, TimeProvider time, OptimizerMetrics metrics)
    {
        _options = options.Router;
        _time = time;
        _metrics = metrics;
        _random = _options.Seed is { } seed ? new Random(seed) : new Random();
    }

    public AutoRouteDecision Choose(GatewayCall call, ModelConfig model, IReadOnlyList<DeploymentConfig> candidates)
    {
        var ordered = candidates.OrderBy(static d => BlendedPrice(d)).ToList();
        var state = _models.GetOrAdd(model.Name, static (_, o) => new ModelState(o), _options);
        var features = PromptFeatures.Compute(PromptFeatures.PromptText(call.Request));
        var strong = ordered[^1];

        if (_options.Cascade && model.Cascade && !call.Stream)
        {
            // Cascade: the cheapest deployment answers first; Review keeps its answer or escalates to the strongest.
            var weak = ordered[0];
            Remember(call.RequestId, new Pending(model.Name, weak.Id, strong.Id, features, false, _time.GetUtcNow() + _options.FeedbackWindow)
            {
                Cascade = new CascadeCall(weak.Id, strong.Id, model.QualityTarget),
            });
            return new AutoRouteDecision(weak.Id, $"cascade: {weak.Id} answers first; escalated to {strong.Id} when a check of its answer fails") { EscalateTo = strong.Id };
        }

        var arms = ordered.Select(d => state.Arm(d.Id)).ToList();

        DeploymentConfig chosen;
        string reason;
        string kind;
        var predictedChoice = false;
        var shortIndex = arms.FindIndex(a => a.Examples < _options.MinFeedback);
        if (shortIndex >= 0)
        {
            // Warm-up: half the calls go to the deployments still short of feedback, the rest to the strong one.
            var shortArms = Enumerable.Range(0, arms.Count).Where(i => arms[i].Examples < _options.MinFeedback).ToList();
            var pick = NextDouble() < 0.5 ? shortArms[NextInt(shortArms.Count)] : ordered.Count - 1;
            chosen = ordered[pick];
            kind = "warmup";
            reason = $"warmup: learning, {arms[shortIndex].Examples}/{_options.MinFeedback} feedbacks for {ordered[shortIndex].Id}";
        }
        else if (_options.Exploration > 0 && NextDouble() < _options.Exploration)
        {
            chosen = ordered[NextInt(ordered.Count)];
            kind = "explore";
            reason = "explore: a random deployment keeps the predictions learning";
        }
        else
        {
            var predicted = arms.Select(a => a.Predict(features)).ToArray();
            var pStrong = predicted[^1];
            predictedChoice = true;
            var (threshold, predictedShare, correction) = state.Observe(pStrong, pStrong - predicted[0], model.QualityTarget);
            var index = ordered.Count - 1;
            for (var i = 0; i < ordered.Count - 1; i++)
            {
                if (pStrong - predicted[i] <= threshold)
                {
                    index = i;
                    break;
                }
            }
            chosen = ordered[index];
            kind = index == ordered.Count - 1 ? "strong" : "weak";
            reason = string.Create(CultureInfo.InvariantCulture,
                $"{kind}: p({chosen.Id})={predicted[index]:0.000}, p({strong.Id})={pStrong:0.000}, predicted loss {pStrong - predicted[0]:0.000} vs allowed {(double.IsNegativeInfinity(threshold) ? -1 : threshold):0.000}; cheap share {Math.Clamp(predictedShare + correction, 0, 1):0.00} (predicted {predictedShare:0.00}, feedback correction {correction:+0.00;-0.00}) for quality target {model.QualityTarget:0.###}");
        }

        Remember(call.RequestId, new Pending(model.Name, chosen.Id, strong.Id, features, predictedChoice, _time.GetUtcNow() + _options.FeedbackWindow));
        _metrics.Routed(model.Name, kind);
        return new AutoRouteDecision(chosen.Id, Sanitize(reason));
    }

    /// <summary>
    /// Reviews a cascaded call's answers: the cheap deployment's answer is escalated when it fails a hard check (cut off,
    /// empty, wrong arithmetic) or when the learned chance that it scores well is below what the quality target allows;
    /// the strong deployment's answer is only read (its final answer, to learn from escalated calls).
    /// </summary>
    public CascadeVerdict Review(GatewayCall call, string deploymentId, string answer, string? finishReason)
    {
        if (!_pending.TryGetValue(call.RequestId, out var pending) || pending.Cascade is not { } cascade || !_models.TryGetValue(pending.Model, out var state))
        {
            return CascadeVerdict.Keep;
        }
        var prompt = PromptFeatures.PromptText(call.Request);
        if (!string.Equals(deploymentId, cascade.Weak, StringComparison.Ordinal))
        {
            cascade.StrongFinal = AnswerFeatures.Compute(prompt, answer, finishReason).FinalAnswer;
            return CascadeVerdict.Keep;
        }

        var features = AnswerFeatures.Compute(prompt, answer, finishReason);
        cascade.Features = features.Vector;
        cascade.WeakFinal = features.FinalAnswer;
        var strongQuality = state.Arm(cascade.Strong).SmoothedMeanScore;
        var explore = _options.Exploration > 0 && NextDouble() < _options.Exploration;
        var (escalate, kind, reason) = state.Cascade.Decide(features, cascade, strongQuality, explore, _options.MinFeedback);
        if (escalate) _pending[call.RequestId] = pending with { Deployment = cascade.Strong };
        _metrics.Routed(pending.Model, kind);
        return new CascadeVerdict(escalate, reason);
    }

    /// <summary>
    /// Learns from the score of a routed call; ignored (null) for calls it did not route or whose window passed. Returns
    /// what was learned, for the other replicas and the next start to fold in (<see cref="Apply"/>).
    /// </summary>
    public RouterObservation? Learn(string requestId, double score)
    {
        if (!_pending.TryRemove(requestId, out var pending) || pending.Deployment is null || pending.Expires < _time.GetUtcNow())
        {
            return null;
        }
        var observation = new RouterObservation(pending.Model, pending.Deployment, pending.Strong, pending.Features.Indexes, pending.Features.Values, pending.Predicted, score)
        {
            Cascade = pending.Cascade is { } cascade
                ? new CascadeObservation(cascade.Weak, cascade.Features,
                    cascade.WeakFinal is not null && cascade.StrongFinal is not null ? AnswerFeatures.Agree(cascade.WeakFinal, cascade.StrongFinal) : null)
                : null,
        };
        Apply(observation);
        _metrics.Learned(pending.Model);
        return observation;
    }

    /// <summary>Folds one learned score into the model's state: this replica's own, or one read from the shared log.</summary>
    public void Apply(RouterObservation observation)
    {
        var state = _models.GetOrAdd(observation.Model, static (_, o) => new ModelState(o), _options);
        state.Arm(observation.Deployment).Learn(new SparseVector(observation.Indexes, observation.Values), observation.Score);
        if (observation.Cascade is { } cascade) state.Cascade.Learn(cascade, observation.Deployment, observation.Score);
        else if (observation.Predicted) state.Realized(observation.Score);
        else state.Random(observation.Deployment, observation.Strong, observation.Score);
    }

    /// <summary>The outcome of a routed call: a fallback changes which deployment answered; a failed call teaches nothing.</summary>
    public void Completed(string requestId, string? deployment, int status)
    {
        if (!_pending.TryGetValue(requestId, out var pending)) return;
        if (status is < 200 or >= 300 || deployment is null)
        {
            _pending.TryRemove(requestId, out _);
            return;
        }
        if (!string.Equals(pending.Deployment, deployment, StringComparison.Ordinal))
        {
            _pending[requestId] = pending with { Deployment = deployment };
        }
    }

    /// <summary>Feedbacks learned per deployment of a model (for tests and diagnostics).</summary>
    public IReadOnlyDictionary<string, long> FeedbackCounts(string model) =>
        _models.TryGetValue(model, out var state) ? state.Counts() : new Dictionary<string, long>();

    private void Remember(string requestId, Pending pending)
    {
        _pending[requestId] = pending;
        _pendingOrder.Enqueue(requestId);
        while (_pending.Count > _options.MaxPending && _pendingOrder.TryDequeue(out var oldest))
        {
            _pending.TryRemove(oldest, out _);
        }
        // Keep the order queue from growing without bound when feedback removes entries first.
        while (_pendingOrder.Count > 2 * _options.MaxPending && _pendingOrder.TryDequeue(out var stale))
        {
            if (_pending.TryGetValue(stale, out var p) && p.Expires < _time.GetUtcNow()) _pending.TryRemove(stale, out _);
        }
    }

    private double NextDouble()
    {
        lock (_randomLock) return _random.NextDouble();
    }

    private int NextInt(int max)
    {
        lock (_randomLock) return _random.Next(max);
    }

    internal static decimal BlendedPrice(DeploymentConfig d) => d.Pricing.InputPerMTok + d.Pricing.OutputPerMTok + (d.Pricing.PerRequest * 1000m);

    /// <summary>Header values are ASCII without control characters; deployment ids come from configuration.</summary>
    private static string Sanitize(string value) =>
        string.Create(value.Length, value, static (span, v) =>
        {
            for (var i = 0; i < v.Length; i++) span[i] = v[i] is >= ' ' and <= '~' ? v[i] : '?';
        });

    /// <summary>
    /// How far the realized quality (the mean of <paramref name="realized"/> scores over the strong deployment's
    /// smoothed mean score on <paramref name="strongCount"/> randomly routed calls) is above the target, less one
    /// standard error of that ratio (delta method): the cheap share grows only while the quality is above the
    /// target by more than the noise of its measure, and shrinks otherwise.
    /// </summary>
    internal static double Surplus(ReadOnlySpan<double> realized, double strongSum, long strongCount, double target)
    {
        var strongQuality = (strongSum + 1) / (strongCount + 2);
        double sum = 0, squares = 0;
        foreach (var score in realized)
        {
            sum += score;
            squares += score * score;
        }
        var mean = sum / realized.Length;
        var ratio = mean / strongQuality;
        var meanVariance = Math.Max((squares / realized.Length) - (mean * mean), 0) / realized.Length;
        var strongVariance = strongQuality * (1 - strongQuality) / (strongCount + 2);
        var error = ratio * Math.Sqrt((meanVariance / Math.Max(mean * mean, 1e-6)) + (strongVariance / (strongQuality * strongQuality)));
        return ratio - error - target;
    }

    /// <param name="Strong">The strongest deployment when the call was routed.</param>
    /// <param name="Predicted">The choice was a prediction; otherwise it was random (warm-up or exploration), independent of the prompt.</param>
    private sealed record Pending(string Model, string? Deployment, string Strong, SparseVector Features, bool Predicted, DateTimeOffset Expires)
    {
        /// <summary>Set for cascaded calls.</summary>
        public CascadeCall? Cascade { get; init; }
    }

    /// <summary>
    /// Per model: one predictor per deployment, the window of recent predicted losses, and the share of calls the cheap
    /// deployment gets (those with the smallest predicted losses). That share starts from the predictions (the calls with
    /// the smallest predicted losses, until their summed loss reaches (1 − target) of the strong deployment's summed
    /// predicted quality) and then follows the realized scores: while the realized quality (the mean score of the recent
    /// routed calls over the strong deployment's mean score on randomly routed calls) is above the target by more than
    /// one standard error of its measure the cheap share grows, and otherwise it shrinks (see <see cref="Surplus"/>). Predictions alone run optimistic: the calls picked for the cheap deployment are those whose predictions
    /// happen to be best, and each deployment learns only from the calls routed to it.
    /// </summary>
    private sealed class ModelState(RouterOptions options)
    {
        private const double CorrectionGain = 0.03;
        private readonly ConcurrentDictionary<string, OnlineLogisticRegression> _arms = new(StringComparer.Ordinal);
        private readonly double[] _strong = new double[options.Window];
        private readonly double[] _loss = new double[options.Window];
        private readonly double[] _realizedScore = new double[Math.Max(50, options.Window / 5)];
        private const int MinStrongSamples = 20;
        private double _strongRandomSum;
        private long _strongRandomCount;
        private readonly Lock _lock = new();
        private int _count;
        private int _next;
        private int _realizedCount;
        private int _realizedNext;
        private double _share;
        private bool _shareStarted;
        private double _lastTarget = 1;

        public CascadeModel Cascade { get; } = new(options);

        public OnlineLogisticRegression Arm(string deployment) =>
            _arms.GetOrAdd(deployment, static (_, o) => new OnlineLogisticRegression(PromptFeatures.Dimensions, o.LearningRate), options);

        public IReadOnlyDictionary<string, long> Counts() => _arms.ToDictionary(static kv => kv.Key, static kv => kv.Value.Examples, StringComparer.Ordinal);

        /// <summary>Adds a call's predictions to the window; returns the largest predicted loss allowed now and the cheap share behind it.</summary>
        public (double Threshold, double PredictedShare, double Correction) Observe(double pStrong, double loss, double target)
        {
            lock (_lock)
            {
                _strong[_next] = pStrong;
                _loss[_next] = loss;
                _next = (_next + 1) % _strong.Length;
                _count = Math.Min(_count + 1, _strong.Length);
                _lastTarget = target;

                var losses = new double[_count];
                var budget = 0.0;
                for (var i = 0; i < _count; i++)
                {
                    budget += _strong[i];
                    losses[i] = _loss[i];
                }
                budget *= 1 - target;
                Array.Sort(losses);
                var spent = 0.0;
                var fits = 0;
                foreach (var l in losses)
                {
                    spent += Math.Max(l, 0);
                    if (spent > budget) break;
                    fits++;
                }
                var predictedShare = fits / (double)_count;
                if (!_shareStarted)
                {
                    // The feedback-driven share starts from the first prediction and moves from there.
                    _share = predictedShare;
                    _shareStarted = true;
                }
                var share = _strongRandomCount >= MinStrongSamples ? _share : predictedShare;
                var cut = (int)Math.Floor(share * _count);
                // The call goes to the cheap deployment when its loss ranks among the `share` smallest of the window.
                var threshold = cut <= 0 ? double.NegativeInfinity : losses[Math.Min(cut, _count) - 1];
                return (threshold, predictedShare, share - predictedShare);
            }
        }

        /// <summary>
        /// A random (warm-up or exploration) call's score: for the strong deployment these give an unbiased estimate of its
        /// quality on the traffic, which the realized quality is measured against.
        /// </summary>
        public void Random(string deployment, string strong, double score)
        {
            lock (_lock)
            {
                if (deployment != strong) return;
                _strongRandomSum += score;
                _strongRandomCount++;
            }
        }

        /// <summary>A predicted call's realized score; adjusts the correction once the strong deployment's quality is known.</summary>
        public void Realized(double score)
        {
            lock (_lock)
            {
                _realizedScore[_realizedNext] = score;
                _realizedNext = (_realizedNext + 1) % _realizedScore.Length;
                _realizedCount = Math.Min(_realizedCount + 1, _realizedScore.Length);
                if (_strongRandomCount < MinStrongSamples) return;
                var surplus = Surplus(_realizedScore.AsSpan(0, _realizedCount), _strongRandomSum, _strongRandomCount, _lastTarget);
                _share = Math.Clamp(_share + (CorrectionGain * surplus), 0, 1);
            }
        }
    }
}
