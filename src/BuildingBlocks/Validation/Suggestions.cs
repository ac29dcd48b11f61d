namespace LlmMarketplace.BuildingBlocks.Validation;

/// <summary>"Did you mean" for a misspelled name: the closest known name by edit distance, when it is close enough.</summary>
public static class Suggestions
{
    /// <summary>The known name nearest to <paramref name="word"/> (case-insensitive), or null when none is within a third of its length (at least one edit).</summary>
    public static string? Closest(string word, IEnumerable<string> known)
    {
        var max = Math.Max(1, word.Length / 3);
        string? best = null;
        var bestDistance = max + 1;
        var lower = word.ToLowerInvariant();
        foreach (var candidate in known)
        {
            var d = Distance(lower, candidate.ToLowerInvariant(), max);
            if (d < bestDistance)
            {
                best = candidate;
                bestDistance = d;
            }
        }
        return best;
    }

    /// <summary>Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions), stopping early above <paramref name="max"/>.</summary>
    public static int Distance(string a, string b, int max)
    {
        if (Math.Abs(a.Length - b.Length) > max) return max + 1;
        var n = a.Length;
        var m = b.Length;
        Span<int> prev2 = m < 256 ? stackalloc int[m + 1] : new int[m + 1];
        Span<int> prev = m < 256 ? stackalloc int[m + 1] : new int[m + 1];
        Span<int> cur = m < 256 ? stackalloc int[m + 1] : new int[m + 1];
        for (var j = 0; j <= m; j++) prev[j] = j;
        for (var i = 1; i <= n; i++)
        {
            cur[0] = i;
            var rowMin = cur[0];
            for (var j = 1; j <= m; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var v = Math.Min(Math.Min(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = Math.Min(v, prev2[j - 2] + 1);
                cur[j] = v;
                if (v < rowMin) rowMin = v;
            }
            if (rowMin > max) return max + 1;
            var tmp = prev2;
            prev2 = prev;
            prev = cur;
            cur = tmp;
        }
        return prev[m];
    }
}
