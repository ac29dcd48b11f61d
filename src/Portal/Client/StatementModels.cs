namespace LlmMarketplace.Portal.Client;

// The statements API's answers, as the portal reads them (GET /api/v1/statements and /api/v1/statements/publisher).

public sealed record StatementView(string Team, string? TeamName, string Month, string Currency, DateTimeOffset From, DateTimeOffset To, bool Closed,
    IReadOnlyList<StatementFee> Subscriptions, IReadOnlyList<StatementUsage> Usage, IReadOnlyList<StatementAdjustment> Adjustments, StatementTotalsView Totals,
    string Rounding);

public sealed record StatementFee(string SubscriptionId, string AppId, string PlanId, string PlanName, string Model, decimal MonthlyPriceUsd,
    DateTimeOffset From, DateTimeOffset To, int Days, int DaysInMonth, decimal AmountUsd);

public sealed record StatementUsage(string Model, string? Listing, long Requests, long PromptTokens, long CompletionTokens, decimal AmountUsd);

public sealed record StatementAdjustment(string Id, string Team, string Month, decimal AmountUsd, string Reason, string CreatedBy, DateTimeOffset CreatedAt);

public sealed record StatementTotalsView(decimal SubscriptionsUsd, decimal UsageUsd, decimal AdjustmentsUsd, decimal TotalUsd);

public sealed record PublisherStatementView(string Team, string? TeamName, string Month, string Currency, bool Closed, IReadOnlyList<ListingRevenueView> Listings, decimal TotalUsd);

public sealed record ListingRevenueView(string Listing, long Requests, decimal UsageUsd, IReadOnlyList<PlanRevenueView> Plans, decimal SubscriptionsUsd, decimal TotalUsd);

public sealed record PlanRevenueView(string PlanId, string PlanName, int Subscriptions, decimal AmountUsd);
