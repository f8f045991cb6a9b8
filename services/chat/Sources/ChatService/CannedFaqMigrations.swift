import ServiceKit

/// Chat migrations 6 and 7: canned responses and the self-service FAQ. Listed in
/// ChatMigrations.all; never edit one once applied.
enum CannedFaqMigrations {
  /// Canned responses (CannedResponseStore.swift). Deleted ones stay as rows (`deleted_at`) so
  /// a retried create still finds its first result; every index covers live rows only.
  static let cannedResponses = Migration(
    version: 6, name: "canned responses",
    sql: """
      CREATE TABLE canned_responses (
        canned_response_id uuid PRIMARY KEY,
        request_id text NOT NULL UNIQUE,
        request_fingerprint text NOT NULL,
        title text NOT NULL,
        shortcut text NOT NULL,
        purpose smallint NOT NULL,
        scope smallint NOT NULL,
        skill_group_ids text[] NOT NULL,
        search_text text NOT NULL,
        search_grams text[] NOT NULL,
        deleted_at timestamptz,
        version bigint NOT NULL,
        body bytea NOT NULL
      );
      -- ListCannedResponses pages by (title, id); the purpose filter has its own ordered index.
      CREATE INDEX canned_responses_title_idx ON canned_responses (title COLLATE "C", canned_response_id) WHERE deleted_at IS NULL;
      CREATE INDEX canned_responses_purpose_idx ON canned_responses (purpose, title COLLATE "C", canned_response_id) WHERE deleted_at IS NULL;
      -- skill_group_id filter (and shortcut overlap checks): the groups' responses by GIN, TEAM ones by their own index.
      CREATE INDEX canned_responses_groups_idx ON canned_responses USING gin (skill_group_ids) WHERE deleted_at IS NULL;
      CREATE INDEX canned_responses_team_idx ON canned_responses (title COLLATE "C", canned_response_id) WHERE deleted_at IS NULL AND scope = 1;
      -- query filter: the 1-, 2- and 3-character grams of the lower-cased text; strpos rechecks.
      CREATE INDEX canned_responses_grams_idx ON canned_responses USING gin (search_grams) WHERE deleted_at IS NULL;
      CREATE INDEX canned_responses_shortcut_idx ON canned_responses (shortcut) WHERE deleted_at IS NULL AND shortcut <> '';
      """
  )

  /// FAQ entries (FaqStore.swift). Search tokens are made in Swift (FaqTokenizer.swift):
  /// PostgreSQL's text search has no Chinese parser and pg_trgm drops CJK characters under the
  /// cluster's C locale, and the service role cannot CREATE EXTENSION anyway.
  static let faqEntries = Migration(
    version: 7, name: "faq entries",
    sql: """
      CREATE TABLE faq_entries (
        faq_entry_id uuid PRIMARY KEY,
        request_id text NOT NULL UNIQUE,
        request_fingerprint text NOT NULL,
        category text NOT NULL,
        question text NOT NULL,
        status smallint NOT NULL,
        keywords text[] NOT NULL,
        question_tokens text[] NOT NULL,
        answer_tokens text[] NOT NULL,
        search_tokens text[] NOT NULL,
        version bigint NOT NULL,
        body bytea NOT NULL
      );
      -- ListFaqEntries pages by (category, question, id), with or without a status filter.
      CREATE INDEX faq_entries_order_idx ON faq_entries (category COLLATE "C", question COLLATE "C", faq_entry_id);
      CREATE INDEX faq_entries_status_idx ON faq_entries (status, category COLLATE "C", question COLLATE "C", faq_entry_id);
      -- SearchFaq: published entries sharing a token with the query, or having a wanted keyword.
      CREATE INDEX faq_entries_tokens_idx ON faq_entries USING gin (search_tokens) WHERE status = 2;
      CREATE INDEX faq_entries_keywords_idx ON faq_entries USING gin (keywords) WHERE status = 2;
      """
  )
}
