// The request body media types the API reads.
export const JSON_TYPE = 'application/json'
export const FORM_TYPE = 'application/x-www-form-urlencoded'
/** Only the bulk change (PATCH of the collection) reads it. */
export const MERGE_PATCH_TYPE = 'application/merge-patch+json'
