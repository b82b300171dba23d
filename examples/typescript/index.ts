// Plano on AWS from TypeScript: the same component as from Python, through its generated SDK.
// The args and outputs are the Python ones in camelCase (docs/components.md has the table).
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as plano from "@pulumi/plano";

const config = new pulumi.Config();

const gateway = new plano.PlanoOnAws("plano", {
    profile: "dev",
    configText: fs.readFileSync("plano_config.yaml", "utf8"),
    // Kept secret end to end: the schema marks providerKeys secret, so the SDK wraps them.
    providerKeys: { OPENAI_API_KEY: config.requireSecret("openaiApiKey") },
    dbEngine: "aurora-serverless",
    activeHours: "08:00-20:00",
});

export const endpointUrl = gateway.endpointUrl;
export const portForwardCommand = gateway.portForwardCommand;
export const redeployCommand = gateway.redeployCommand;
export const logGroupNames = gateway.logGroupNames;
