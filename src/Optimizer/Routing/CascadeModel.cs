namespace LlmMarketplace.Optimizer.Routing;

/// <summary>One cascaded call, from its routing until its feedback: what the review read in the answers.</summary>
internal sealed class CascadeCall(string weak, string strong, double qualityTarget)
{
    public string Weak { get; } = weak;

    public string Strong { get; } = strong;

    public double QualityTarget { get; } = qualityTarget;

    /// <summary>The features of the cheap deployment's answer; null until it was reviewed.</summary>
    public double[]? Features { get; set; }

    public string? WeakFinal { get; set; }

    public string? StrongFinal { get; set; }
}

/// <summary>
/// Per model: the cascade's acceptance model (the chance that the cheap deployment's answer scores well, from the
/// answer's features) and the rule that turns it into keep or escalate under the quality target.
/// <para>
/// The rule: over the recent reviewed answers, keep those with the highest chance, as many as fit a loss budget of
/// (1 − target) × (the strong deployment's mean score) per call. A kept answer loses quality only when it is wrong and
/// the strong deployment would have been right, so its loss is counted as (1 − p) × r, where r is the share of the
/// cheap deployment's wrong answers that the strong deployment got right. r starts at 1 (as if the strong deployment
/// were always right) and is learned from escalated calls; a pair of wrong answers is seen only when both gave the same
/// final answer (two different answers that both scored badly say nothing of the cheap one), so r leans high and the
/// bound stays on the safe side: when the predictions are calibrated the expected quality is at least the target.
/// </para>
/// <para>
/// Labels: a kept answer learns from its own score. An escalated call teaches too when both answers state a final
/// answer: when the strong answer scored well, the cheap answer was right if the two agree and wrong if they do not;
/// when it scored badly and the two agree, the cheap answer was wrong too. Without that, escalated calls (the hard
/// ones) would never teach, and the model would learn only from answers it already trusted. A share of answers (<see cref="RouterOptions.Exploration"/>) is kept whatever the prediction, and the
/// first <see cref="RouterOptions.MinFeedback"/> are kept while the model learns.
/// </para>
/// </summary>
internal sealed class CascadeModel(RouterOptions options)
{
    private readonly ReplayedLogisticRegression _accept = new(AnswerFeatures.Dimensions, options.CascadeExamples, options.Seed ?? Environment.TickCount);
    private readonly (double P, bool Hard)[] _window = new (double, bool)[options.Window];
    private readonly Lock _lock = new();
    private int _count;
    private int _next;
    // r: of the escalated calls whose cheap answer was wrong, the share the strong deployment answered well; the prior
    // (two of two) starts it at 1.
    private double _weakWrong = 2;
    private double _weakWrongStrongRight = 2;

    public long Examples => _accept.Examples;

    public (bool Escalate, string Kind, string Reason) Decide(AnswerFeatures features, CascadeCall call, double strongQuality, bool explore, int minFeedback)
    {
        var p = _accept.Predict(features.Vector);
        double threshold;
        double r;
        lock (_lock)
        {
            r = _weakWrongStrongRight / _weakWrong;
            _window[_next] = (p, features.HardFailure is not null);
            _next = (_next + 1) % _window.Length;
            _count = Math.Min(_count + 1, _window.Length);
            threshold = Threshold(call.QualityTarget, strongQuality, r);
        }
        if (features.HardFailure is { } failure)
        {
            return (true, "escalated", $"cascade: escalated to {call.Strong}: {failure}");
        }
        var examples = _accept.Examples;
        if (examples < minFeedback)
        {
            return (false, "warmup", $"cascade: kept the answer of {call.Weak} (learning, {examples}/{minFeedback} feedbacks)");
        }
        if (explore)
        {
            return (false, "explore", $"cascade: kept the answer of {call.Weak} (exploration keeps the predictions learning)");
        }
        var keep = p >= threshold;
        var needed = threshold > 1 ? "more than 1" : threshold.ToString("0.000", CultureInfo.InvariantCulture);
        var why = string.Create(CultureInfo.InvariantCulture,
            $"p(answer of {call.Weak} is good)={p:0.000}, needed {needed} for quality target {call.QualityTarget:0.###} (strong mean score {strongQuality:0.00}, right on {r * 100:0}% of its misses)");
        return keep
            ? (false, "weak", $"cascade: kept the answer of {call.Weak}: {why}")
            : (true, "strong", $"cascade: escalated to {call.Strong}: {why}");
    }

    public void Learn(CascadeObservation call, string answered, double score)
    {
        if (call.Features is not { } x) return;
        if (string.Equals(answered, call.Weak, StringComparison.Ordinal))
        {
            _accept.Learn(x, score);
        }
        else if (call.Agree is { } agree)
        {
            if (score >= 0.5)
            {
                _accept.Learn(x, agree ? score : 0);
                if (!agree) CountWeakWrong(strongRight: true);
            }
            else if (agree)
            {
                // The same final answer as a wrong one: the cheap answer was wrong too.
                _accept.Learn(x, 0);
                CountWeakWrong(strongRight: false);
            }
        }
    }

    private void CountWeakWrong(bool strongRight)
    {
        lock (_lock)
        {
            _weakWrong++;
            if (strongRight) _weakWrongStrongRight++;
        }
    }

    private double Threshold(double target, double strongQuality, double strongRightWhenWeakWrong)
    {
        var chances = new List<double>(_count);
        for (var i = 0; i < _count; i++)
        {
            if (!_window[i].Hard) chances.Add(_window[i].P);
        }
        return Threshold(chances, _count, target, strongQuality, strongRightWhenWeakWrong);
    }

    /// <summary>
    /// The smallest chance kept: of <paramref name="calls"/> recent calls (those failing a hard check are escalated
    /// anyway, so only the others' <paramref name="chances"/> are given), the answers that fit the loss budget, best first.
    /// </summary>
    internal static double Threshold(List<double> chances, int calls, double target, double strongQuality, double strongRightWhenWeakWrong)
    {
        chances.Sort();
        var budget = (1 - target) * calls * strongQuality;
        var spent = 0.0;
        var threshold = double.PositiveInfinity;
        for (var i = chances.Count - 1; i >= 0; i--)
        {
            spent += (1 - chances[i]) * strongRightWhenWeakWrong;
            if (spent > budget) break;
            threshold = chances[i];
        }
        return threshold;
    }
}
