namespace LlmMarketplace.Optimizer.Routing;

/// <summary>
/// Logistic regression learned one example at a time (AdaGrad per coordinate, which suits sparse hashed features),
/// predicting the chance that an answer scores well. Targets are scores in [0, 1]. The weights model the difference
/// from the mean score seen so far (the offset is its logit), so predictions are calibrated on average from the first
/// examples on, while the weights still learn slowly. Thread-safe.
/// </summary>
internal sealed class OnlineLogisticRegression(int dimensions, double learningRate = 0.05, double l2 = 1e-4)
{
    private readonly double[] _weights = new double[dimensions];
    private readonly double[] _gradSquares = new double[dimensions];
    private readonly Lock _lock = new();
    private long _examples;
    private double _scoreSum;

    public long Examples => Interlocked.Read(ref _examples);

    /// <summary>The mean score seen so far (0.5 before any).</summary>
    public double MeanScore
    {
        get
        {
            lock (_lock) return _examples == 0 ? 0.5 : _scoreSum / _examples;
        }
    }

    /// <summary>The mean score smoothed towards one half, (sum + 1) / (n + 2).</summary>
    public double SmoothedMeanScore
    {
        get
        {
            lock (_lock) return (_scoreSum + 1) / (_examples + 2);
        }
    }

    public double Predict(SparseVector x)
    {
        lock (_lock)
        {
            return Sigmoid(Offset() + Dot(x));
        }
    }

    public void Learn(SparseVector x, double target)
    {
        lock (_lock)
        {
            var error = Sigmoid(Offset() + Dot(x)) - target;
            for (var i = 0; i < x.Indexes.Length; i++)
            {
                var j = x.Indexes[i];
                var gradient = (error * x.Values[i]) + (l2 * _weights[j]);
                _gradSquares[j] += gradient * gradient;
                _weights[j] -= learningRate * gradient / (Math.Sqrt(_gradSquares[j]) + 1e-8);
            }
            _examples++;
            _scoreSum += target;
        }
    }

    /// <summary>The logit of the smoothed mean score, (sum + 1) / (n + 2).</summary>
    private double Offset()
    {
        var mean = (_scoreSum + 1) / (_examples + 2);
        return Math.Log(mean / (1 - mean));
    }

    private double Dot(SparseVector x)
    {
        var sum = 0.0;
        for (var i = 0; i < x.Indexes.Length; i++) sum += _weights[x.Indexes[i]] * x.Values[i];
        return sum;
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-Math.Clamp(z, -30, 30)));
}
