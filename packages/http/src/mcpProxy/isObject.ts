/** Whether a JSON value is an object (not null, not an array): a record whose fields may be read. */
export const isObject = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null && !Array.isArray(value)
