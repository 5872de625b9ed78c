//! Translation, a sub-processor the tenant's policy chooses (`subprocessors.translation`):
//! Google Cloud Translation, whose servers may be outside the EU, so a tenant whose policy keeps
//! data in the EU cannot choose it (`causerie_core::policy`).

use std::time::Duration;

use causerie_core::Error;
use serde::Deserialize;

const TRANSLATION_TIMEOUT: Duration = Duration::from_secs(20);

pub trait Translator: Send + Sync {
    /// `texts` from `source` into `target` (language codes such as `fr`), in order.
    fn translate(
        &self,
        texts: &[String],
        source: &str,
        target: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
}

/// Google Cloud Translation's basic (v2) REST API: `POST {url}/language/translate/v2` with the API
/// key, the texts as `q`, and `format: text` so that nothing is read as HTML.
#[derive(Clone)]
pub struct GoogleTranslator {
    http: reqwest::Client,
    url: String,
    key: String,
}

#[derive(Deserialize)]
struct Answer {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    translations: Vec<Translation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Translation {
    translated_text: String,
}

impl GoogleTranslator {
    pub fn new(http: reqwest::Client, url: &str, key: &str) -> Self {
        Self { http, url: url.trim_end_matches('/').to_owned(), key: key.to_owned() }
    }
}

impl Translator for GoogleTranslator {
    async fn translate(&self, texts: &[String], source: &str, target: &str) -> Result<Vec<String>, Error> {
        if self.key.is_empty() {
            return Err(Error::unavailable(
                "Google translation is not configured on this platform (CAUSERIE_GOOGLE_TRANSLATE_KEY)",
            ));
        }
        let body = serde_json::json!({"q": texts, "source": source, "target": target, "format": "text"});
        let answer = self
            .http
            .post(format!("{}/language/translate/v2", self.url))
            .header("x-goog-api-key", &self.key)
            .json(&body)
            .timeout(TRANSLATION_TIMEOUT)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, "Google translation unreachable");
                Error::unavailable("translation is unavailable")
            })?;
        if !answer.status().is_success() {
            tracing::warn!(status = %answer.status(), "Google translation refused");
            return Err(Error::unavailable("translation failed"));
        }
        let answer: Answer = answer.json().await.map_err(|_| Error::unavailable("translation answered nonsense"))?;
        if answer.data.translations.len() != texts.len() {
            return Err(Error::unavailable("translation answered another number of texts"));
        }
        Ok(answer.data.translations.into_iter().map(|translation| translation.translated_text).collect())
    }
}
