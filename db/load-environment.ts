// Scripts run outside Next, so they load the same .env files Next would before anything reads the config.
import nextEnvironment from "@next/env";

nextEnvironment.loadEnvConfig(process.cwd(), process.env.NODE_ENV !== "production");
