using LlmMarketplace.BuildingBlocks.Validation;

namespace LlmMarketplace.Optimizer;

/// <summary>The <c>Optimizer</c> section.</summary>
public sealed record OptimizerOptions
{
    public const string SectionName = "Optimizer";

    public RouterOptions Router { get; init; } = new();

    public ExperimentOptions Experiments { get; init; } = new();

    public void Validate(ValidationErrors errors)
    {
        if (Router.MinFeedback < 0) errors.Add("Optimizer:Router:MinFeedback", "Set zero or a positive number of feedbacks per deployment before predictions are trusted, e.g. 20.");
        if (Router.Exploration is < 0 or > 1) errors.Add("Optimizer:Router:Exploration", "Set a share in [0, 1], e.g. 0.05.");
        if (Router.Window < 10) errors.Add("Optimizer:Router:Window", "Set at least 10 recent requests for the quality threshold, e.g. 500.");
        if (Router.LearningRate <= 0) errors.Add("Optimizer:Router:LearningRate", "Set a positive learning rate, e.g. 0.05.");
        if (Router.MaxPending < 1) errors.Add("Optimizer:Router:MaxPending", "Set a positive number of routed requests that wait for feedback, e.g. 100000.");
        if (Experiments.RefreshInterval <= TimeSpan.Zero) errors.Add("Optimizer:Experiments:RefreshInterval", "Set a positive interval, e.g. 00:00:05.");
        if (Router.CascadeExamples < 100) errors.Add("Optimizer:Router:CascadeExamples", "Set at least 100 kept examples, e.g. 5000.");
        if (Router.RefreshInterval <= TimeSpan.Zero) errors.Add("Optimizer:Router:RefreshInterval", "Set a positive interval, e.g. 00:00:05.");
        if (Router.FeedbackWindow <= TimeSpan.Zero) errors.Add("Optimizer:Router:FeedbackWindow", "Set a positive time, e.g. 1.00:00:00.");
    }
}

/// <summary>Settings of the auto-router (models with <c>Routing: auto</c>).</summary>
public sealed record RouterOptions
{
    /// <summary>Feedbacks each deployment needs before its predictions are used; until then calls are spread to gather them.</summary>
    public int MinFeedback { get; init; } = 20;

    /// <summary>Share of calls sent to a random deployment so that every prediction keeps learning.</summary>
    public double Exploration { get; init; } = 0.05;

    /// <summary>How many recent calls the quality threshold is fitted on.</summary>
    public int Window { get; init; } = 500;

    public double LearningRate { get; init; } = 0.05;

    /// <summary>Seeds the router's random choices (exploration) for reproducible runs; random when unset.</summary>
    public int? Seed { get; init; }

    /// <summary>Routed calls remembered (features and deployment, never the prompt) until their feedback arrives.</summary>
    public int MaxPending { get; init; } = 100_000;

    /// <summary>
    /// Cascade calls that are not streamed (per model unless it says <c>Cascade: false</c>): the cheapest deployment answers
    /// first and its answer is checked; it is escalated to the strongest when the check fails. Streamed calls are routed by prediction.
    /// </summary>
    public bool Cascade { get; init; } = true;

    /// <summary>Reviewed answers (their features and score, never the text) the cascade keeps to refit its acceptance model.</summary>
    public int CascadeExamples { get; init; } = 5000;

    /// <summary>How long feedback on a routed call still teaches the router.</summary>
    public TimeSpan FeedbackWindow { get; init; } = TimeSpan.FromDays(1);

    /// <summary>How often what other replicas learned is folded in (the learned state is shared through the database).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>Settings of experiments.</summary>
public sealed record ExperimentOptions
{
    /// <summary>How often experiments are reloaded (other replicas' changes) and adaptive shares re-fitted.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Seeds Thompson sampling for reproducible runs; random when unset.</summary>
    public int? Seed { get; init; }
}
