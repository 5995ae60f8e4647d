CREATE TABLE "data_keys" (
	"purpose" text NOT NULL,
	"version" integer NOT NULL,
	"wrapped_key" text NOT NULL,
	"wrapping_key_label" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "data_keys_pkey" PRIMARY KEY("purpose","version"),
	CONSTRAINT "data_keys_purpose_shape" CHECK ("data_keys"."purpose" ~ '^(blind-index:)?[a-z][a-z0-9-]{0,62}$'),
	CONSTRAINT "data_keys_version_positive" CHECK ("data_keys"."version" between 1 and 999999999),
	CONSTRAINT "data_keys_wrapped_key_shape" CHECK ("data_keys"."wrapped_key" ~ '^aes-256-gcm:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{64}$'),
	CONSTRAINT "data_keys_wrapping_key_label_present" CHECK (length("data_keys"."wrapping_key_label") between 1 and 128)
);
