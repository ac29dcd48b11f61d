using System.CommandLine.Invocation;
using LlmMarketplace.Host.Commands;

var parse = CliCommands.Create().Parse(args);
// A mistyped command line gets its errors in words, not the whole help text after them.
if (parse.Action is ParseErrorAction onError) onError.ShowHelp = false;
return await parse.InvokeAsync();
