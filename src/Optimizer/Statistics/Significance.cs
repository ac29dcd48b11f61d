namespace LlmMarketplace.Optimizer.Statistics;

/// <summary>Mean, variance and size of a sample, as the tests below take them.</summary>
public readonly record struct SampleSummary(long Count, double Mean, double Variance)
{
    /// <summary>Welford's one-pass mean and unbiased variance.</summary>
    public static SampleSummary Of(IEnumerable<double> values)
    {
        long n = 0;
        double mean = 0, m2 = 0;
        foreach (var x in values)
        {
            n++;
            var delta = x - mean;
            mean += delta / n;
            m2 += delta * (x - mean);
        }
        return new SampleSummary(n, n == 0 ? 0 : mean, n > 1 ? m2 / (n - 1) : 0);
    }

    public double StandardError => Count > 0 ? Math.Sqrt(Variance / Count) : double.NaN;

    /// <summary>A two-sided confidence interval of the mean (Student's t with n − 1 degrees of freedom).</summary>
    public (double Low, double High) ConfidenceInterval(double level = 0.95)
    {
        if (Count < 2) return (double.NaN, double.NaN);
        var t = Significance.StudentTQuantile(1 - ((1 - level) / 2), Count - 1);
        return (Mean - (t * StandardError), Mean + (t * StandardError));
    }
}

/// <summary>The result of a two-sample test: the statistic, its degrees of freedom (t tests) and the two-sided p-value.</summary>
public readonly record struct TestResult(double Statistic, double DegreesOfFreedom, double PValue);

/// <summary>Significance tests for experiment results: Welch's t test and the two-proportion z test.</summary>
public static class Significance
{
    /// <summary>Welch's unequal-variances t test of mean(b) − mean(a); NaN when either sample is too small or both are constant.</summary>
    public static TestResult WelchT(SampleSummary a, SampleSummary b)
    {
        if (a.Count < 2 || b.Count < 2) return new TestResult(double.NaN, double.NaN, double.NaN);
        var va = a.Variance / a.Count;
        var vb = b.Variance / b.Count;
        var se2 = va + vb;
        if (se2 <= 0) return new TestResult(double.NaN, double.NaN, double.NaN);
        var t = (b.Mean - a.Mean) / Math.Sqrt(se2);
        var df = se2 * se2 / ((va * va / (a.Count - 1)) + (vb * vb / (b.Count - 1)));
        return new TestResult(t, df, 2 * StudentTUpperTail(Math.Abs(t), df));
    }

    /// <summary>The pooled two-proportion z test of p(b) − p(a), from successes and trials.</summary>
    public static TestResult TwoProportionZ(double successesA, long trialsA, double successesB, long trialsB)
    {
        if (trialsA == 0 || trialsB == 0) return new TestResult(double.NaN, double.NaN, double.NaN);
        var pa = successesA / trialsA;
        var pb = successesB / trialsB;
        var pooled = (successesA + successesB) / (trialsA + trialsB);
        var se = Math.Sqrt(pooled * (1 - pooled) * ((1.0 / trialsA) + (1.0 / trialsB)));
        if (se <= 0) return new TestResult(double.NaN, double.NaN, double.NaN);
        var z = (pb - pa) / se;
        return new TestResult(z, double.PositiveInfinity, 2 * NormalUpperTail(Math.Abs(z)));
    }

    /// <summary>P(Z &gt; z) for a standard normal Z.</summary>
    public static double NormalUpperTail(double z) => 0.5 * Erfc(z / Math.Sqrt(2));

    /// <summary>P(T &gt; t) for Student's t with df degrees of freedom (t ≥ 0), through the regularized incomplete beta function.</summary>
    public static double StudentTUpperTail(double t, double df)
    {
        if (double.IsPositiveInfinity(df)) return NormalUpperTail(t);
        var x = df / (df + (t * t));
        return 0.5 * RegularizedIncompleteBeta(df / 2, 0.5, x);
    }

    /// <summary>The p-quantile of Student's t (p in (0.5, 1)), by bisection on the upper tail.</summary>
    public static double StudentTQuantile(double p, double df)
    {
        double low = 0, high = 1000;
        for (var i = 0; i < 200; i++)
        {
            var mid = (low + high) / 2;
            if (1 - StudentTUpperTail(mid, df) < p) low = mid;
            else high = mid;
        }
        return (low + high) / 2;
    }

    /// <summary>erfc with a Chebyshev fit (Numerical Recipes' erfcc; relative error below 1.2e-7).</summary>
    public static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + (0.5 * z));
        ReadOnlySpan<double> c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
        var poly = 0.0;
        for (var i = c.Length - 1; i >= 0; i--) poly = (poly * t) + c[i];
        var r = t * Math.Exp(-(z * z) + poly);
        return x >= 0 ? r : 2 - r;
    }

    /// <summary>I_x(a, b) by Lentz's continued fraction (Numerical Recipes' betai/betacf).</summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        var lnFront = LogGamma(a + b) - LogGamma(a) - LogGamma(b) + (a * Math.Log(x)) + (b * Math.Log(1 - x));
        var front = Math.Exp(lnFront);
        return x < (a + 1) / (a + b + 2)
            ? front * BetaContinuedFraction(a, b, x) / a
            : 1 - (front * BetaContinuedFraction(b, a, 1 - x) / b);
    }

    private static double BetaContinuedFraction(double a, double b, double x)
    {
        const double tiny = 1e-300;
        var qab = a + b;
        var qap = a + 1;
        var qam = a - 1;
        var c = 1.0;
        var d = 1 - (qab * x / qap);
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        var h = d;
        for (var m = 1; m <= 300; m++)
        {
            var m2 = 2 * m;
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + (aa * d);
            if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + (aa / c);
            if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + (aa * d);
            if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + (aa / c);
            if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-14) break;
        }
        return h;
    }

    /// <summary>Lanczos approximation (g = 7, n = 9).</summary>
    public static double LogGamma(double x)
    {
        ReadOnlySpan<double> coefficients =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        var sum = coefficients[0];
        for (var i = 1; i < 9; i++) sum += coefficients[i] / (x + i);
        var t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }
}
