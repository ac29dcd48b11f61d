using System.Text.RegularExpressions;

namespace LlmMarketplace.Optimizer.Routing;

/// <summary>
/// What the cascade reads in a cheap model's answer before deciding whether to keep it: a hard failure (the answer was
/// cut off, is empty, or its own arithmetic is wrong) escalates at once; otherwise dense features of the answer and its
/// prompt feed the learned acceptance model. <see cref="FinalAnswer"/> is the answer's final value (after <c>####</c>,
/// "the answer is", <c>\boxed{}</c>, or else its last number), compared with the stronger model's to learn from
/// escalated calls. Nothing here is trained offline; the weights are learned from feedback.
/// </summary>
internal sealed partial record AnswerFeatures(double[] Vector, string? HardFailure, string? FinalAnswer)
{
    public static readonly string[] Names =
    [
        "bias", "no_final_answer", "arithmetic_errors", "final_not_integer", "final_negative", "final_not_computed",
        "final_is_last_result", "steps", "answer_length", "prompt_length", "prompt_numbers", "prompt_numbers_unused",
        "hedges", "prompt_fractions", "prompt_time", "prompt_money", "final_large",
    ];

    public static int Dimensions => Names.Length;

    public static AnswerFeatures Compute(string prompt, string answer, string? finishReason)
    {
        var results = new List<double>();
        var checkedExpressions = 0;
        var errors = 0;
        foreach (Match m in Annotated().Matches(answer))
        {
            checkedExpressions++;
            var value = Arithmetic.Evaluate(m.Groups[1].Value);
            var stated = Arithmetic.Evaluate(m.Groups[2].Value);
            if (value is null || stated is null || !RoundsTo(value.Value, stated.Value, m.Groups[2].Value)) errors++;
            if (stated is { } s) results.Add(s);
        }
        // Inline calculations outside the annotations (which were checked above).
        foreach (Match m in Equation().Matches(Annotated().Replace(answer, " ")))
        {
            checkedExpressions++;
            var value = Arithmetic.Evaluate(m.Groups[1].Value);
            var stated = Number(m.Groups[2].Value);
            if (value is not null && stated is not null && !RoundsTo(value.Value, stated.Value, m.Groups[2].Value)) errors++;
            if (stated is { } s) results.Add(s);
        }

        var final = ExtractFinal(answer, out var explicitFinal);
        var finalValue = final is null ? null : Number(final);
        var promptNumbers = Numbers(prompt);
        var answerNumbers = Numbers(answer);
        var unused = promptNumbers.Count(p => !answerNumbers.Contains(p));

        string? hard = null;
        if (string.IsNullOrWhiteSpace(answer)) hard = "the answer is empty";
        else if (finishReason == "length") hard = "the answer was cut off (finish_reason length)";
        else if (errors > 0) hard = errors == 1 ? "one of the answer's calculations is wrong" : $"{errors} of the answer's calculations are wrong";

        var v = new double[Dimensions];
        v[0] = 1;
        v[1] = explicitFinal ? 0 : 1;
        v[2] = Math.Min(errors, 3);
        v[3] = finalValue is { } f3 && Math.Abs(f3 - Math.Round(f3)) > 1e-9 ? 1 : 0;
        v[4] = finalValue is < 0 ? 1 : 0;
        v[5] = finalValue is { } f5 && results.Count > 0 && results.All(r => !Close(r, f5)) ? 1 : 0;
        v[6] = finalValue is { } f6 && results.Count > 0 && Close(results[^1], f6) ? 1 : 0;
        v[7] = Math.Log(1 + checkedExpressions);
        v[8] = Math.Log(1 + answer.Length) / 8;
        v[9] = Math.Log(1 + prompt.Length) / 7;
        v[10] = Math.Log(1 + promptNumbers.Count);
        v[11] = Math.Min(unused, 4) / 4.0;
        v[12] = Math.Min(Hedge().Matches(answer).Count, 3);
        v[13] = Fractions().IsMatch(prompt) ? 1 : 0;
        v[14] = Time().IsMatch(prompt) ? 1 : 0;
        v[15] = prompt.Contains('$') ? 1 : 0;
        v[16] = finalValue is { } f16 && Math.Abs(f16) >= 1000 ? 1 : 0;
        return new AnswerFeatures(v, hard, final is null ? null : Normalize(final));
    }

    /// <summary>Whether two final answers say the same: equal numbers, or equal text ignoring case, spaces and punctuation.</summary>
    public static bool Agree(string? a, string? b) => a is not null && b is not null && a == b;

    /// <summary>The final answer: after an explicit marker when there is one (<paramref name="explicitMarker"/>), else the last number.</summary>
    private static string? ExtractFinal(string answer, out bool explicitMarker)
    {
        explicitMarker = false;
        Match? last = null;
        foreach (Match m in FinalMarker().Matches(answer)) last = m;
        if (last is not null)
        {
            explicitMarker = true;
            return last.Groups["value"].Value;
        }
        Match? number = null;
        foreach (Match m in NumberPattern().Matches(answer)) number = m;
        return number?.Value;
    }

    private static string Normalize(string final)
    {
        if (Number(final) is { } n) return n.ToString("R", CultureInfo.InvariantCulture);
        var chars = final.Where(static c => char.IsLetterOrDigit(c)).Select(char.ToLowerInvariant).ToArray();
        return new string(chars);
    }

    private static HashSet<double> Numbers(string text)
    {
        var set = new HashSet<double>();
        foreach (Match m in NumberPattern().Matches(text))
        {
            if (Number(m.Value) is { } n) set.Add(n);
        }
        return set;
    }

    /// <summary>A number as written (thousands commas, a leading $, a trailing period allowed); null when it is not one.</summary>
    private static double? Number(string text)
    {
        var t = text.Trim().TrimStart('$').TrimEnd('.').Replace(",", "", StringComparison.Ordinal);
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : null;
    }

    /// <summary>Equal up to floating-point noise.</summary>
    private static bool Close(double a, double b) => Math.Abs(a - b) <= 1e-9 * Math.Max(1, Math.Abs(a));

    /// <summary>
    /// Whether a stated result is the computed value rounded to the digits it was written with: "3.33" for 10/3 and
    /// "3" for 10/3 are right, "51" for 20 + 30 is wrong.
    /// </summary>
    private static bool RoundsTo(double computed, double stated, string written)
    {
        var text = written.Trim().TrimEnd('.');
        var point = text.LastIndexOf('.');
        var decimals = point < 0 ? 0 : text.Length - point - 1;
        if (text.Contains('/', StringComparison.Ordinal)) return Close(computed, stated);
        return Math.Abs(computed - stated) <= (0.5 * Math.Pow(10, -decimals)) + (1e-9 * Math.Max(1, Math.Abs(computed)));
    }

    /// <summary>Calculator annotations as in GSM8K's reference solutions: <c>&lt;&lt;3*60=180&gt;&gt;</c>.</summary>
    [GeneratedRegex(@"<<([^<>=]+)=([^<>]+)>>")]
    private static partial Regex Annotated();

    /// <summary>An inline calculation with at least one operator: <c>16 - 3 = 13</c>, <c>180 x 3 = 540</c>, <c>(3 + 4) * 2 = 14</c>.</summary>
    [GeneratedRegex(@"(\(?\s*-?[\d,]*\.?\d+\s*\)?(?:\s*[-+*/x×]\s*\(?\s*-?[\d,]*\.?\d+\s*\)?)+)\s*=\s*\$?(-?[\d,]*\.?\d+)")]
    private static partial Regex Equation();

    [GeneratedRegex(@"(?:####|\banswer(?:\s+is)?\s*:|\banswer\s+is|\\boxed\{)\s*\$?\s*(?<value>-?[\d,]*\.?\d+|[A-Za-z][^\n.}]{0,40})", RegexOptions.IgnoreCase)]
    private static partial Regex FinalMarker();

    [GeneratedRegex(@"-?\d[\d,]*(?:\.\d+)?")]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"\b(?:assum|approximately|however|actually|wait\b|mistake|incorrect|re-?evaluat|not possible|cannot|can't|unclear|round)", RegexOptions.IgnoreCase)]
    private static partial Regex Hedge();

    [GeneratedRegex(@"percent|%|fraction|half|third|quarter|ratio|average", RegexOptions.IgnoreCase)]
    private static partial Regex Fractions();

    [GeneratedRegex(@"hour|minute|day|week|month|year", RegexOptions.IgnoreCase)]
    private static partial Regex Time();

    /// <summary>Evaluates the arithmetic an answer writes out: numbers, + − * / x ×, parentheses. Null when it is anything else.</summary>
    internal static class Arithmetic
    {
        public static double? Evaluate(string expression)
        {
            var text = expression.Replace(",", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal).Replace("$", "", StringComparison.Ordinal);
            var position = 0;
            var value = Sum(text, ref position);
            Skip(text, ref position);
            return value is { } v && position == text.Length && double.IsFinite(v) ? v : null;
        }

        private static double? Sum(string t, ref int i)
        {
            var left = Product(t, ref i);
            while (left is not null)
            {
                Skip(t, ref i);
                if (i >= t.Length || t[i] is not ('+' or '-')) break;
                var op = t[i++];
                var right = Product(t, ref i);
                if (right is null) return null;
                left = op == '+' ? left + right : left - right;
            }
            return left;
        }

        private static double? Product(string t, ref int i)
        {
            var left = Factor(t, ref i);
            while (left is not null)
            {
                Skip(t, ref i);
                if (i >= t.Length || t[i] is not ('*' or '/' or 'x' or 'X' or '×')) break;
                var op = t[i++];
                var right = Factor(t, ref i);
                if (right is null) return null;
                if (op == '/')
                {
                    if (right == 0) return null;
                    left /= right;
                }
                else
                {
                    left *= right;
                }
            }
            return left;
        }

        private static double? Factor(string t, ref int i)
        {
            Skip(t, ref i);
            if (i >= t.Length) return null;
            if (t[i] == '-')
            {
                i++;
                return -Factor(t, ref i);
            }
            if (t[i] == '(')
            {
                i++;
                var inner = Sum(t, ref i);
                Skip(t, ref i);
                if (i >= t.Length || t[i] != ')') return null;
                i++;
                return inner;
            }
            var start = i;
            while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
            if (i == start) return null;
            var number = t[start..i];
            // Percentages as written in answers: "20%" is 0.2.
            var percent = i < t.Length && t[i] == '%';
            if (percent) i++;
            return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? (percent ? v / 100 : v) : null;
        }

        private static void Skip(string t, ref int i)
        {
            while (i < t.Length && char.IsWhiteSpace(t[i])) i++;
        }
    }
}
