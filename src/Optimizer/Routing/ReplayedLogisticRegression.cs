namespace LlmMarketplace.Optimizer.Routing;

/// <summary>
/// Logistic regression over a few dense features that keeps its recent examples: each example takes one gradient step
/// at once, and every <see cref="RefitEvery"/> examples the weights are fitted afresh by several shuffled passes over
/// the kept ones, so that a small stream of feedback is used fully rather than seen once. Targets are scores in [0, 1].
/// Thread-safe.
/// </summary>
internal sealed class ReplayedLogisticRegression(int dimensions, int capacity, int seed, double learningRate = 0.1, double l2 = 1e-3)
{
    public const int RefitEvery = 25;
    private const int Epochs = 5;

    private readonly double[] _weights = new double[dimensions];
    private readonly double[][] _examples = new double[capacity][];
    private readonly double[] _targets = new double[capacity];
    private readonly Random _random = new(seed);
    private readonly Lock _lock = new();
    private int _count;
    private int _next;
    private long _seen;

    public long Examples
    {
        get
        {
            lock (_lock) return _seen;
        }
    }

    public double Predict(double[] x)
    {
        lock (_lock) return Sigmoid(Dot(_weights, x));
    }

    public void Learn(double[] x, double target)
    {
        lock (_lock)
        {
            _examples[_next] = x;
            _targets[_next] = target;
            _next = (_next + 1) % _examples.Length;
            _count = Math.Min(_count + 1, _examples.Length);
            _seen++;
            Step(x, target);
            if (_seen % RefitEvery == 0) Refit();
        }
    }

    /// <summary>The weights, by feature (for diagnostics and tests).</summary>
    public double[] Weights()
    {
        lock (_lock) return (double[])_weights.Clone();
    }

    private void Refit()
    {
        Array.Clear(_weights);
        var order = new int[_count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            _random.Shuffle(order);
            foreach (var i in order) Step(_examples[i], _targets[i]);
        }
    }

    private void Step(double[] x, double target)
    {
        var error = Sigmoid(Dot(_weights, x)) - target;
        for (var j = 0; j < _weights.Length; j++)
        {
            _weights[j] -= learningRate * ((error * x[j]) + (l2 * _weights[j]));
        }
    }

    private static double Dot(double[] w, double[] x)
    {
        var sum = 0.0;
        for (var j = 0; j < w.Length; j++) sum += w[j] * x[j];
        return sum;
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-Math.Clamp(z, -30, 30)));
}
