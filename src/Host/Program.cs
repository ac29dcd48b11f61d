using LlmMarketplace.Host.Commands;

return await CliCommands.Create().Parse(args).InvokeAsync();
