//! Single objects by id, for the application API (an object not in the database yet, a
//! forced refresh) and for reconciliation's confirmation that an object is gone; and the
//! instance a key belongs to, which pins the database to one Clerk instance.
//!
//! `Ok(None)` is Clerk's own "no such object" (404 `resource_not_found`) and nothing else.

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::list::Pager;
use crate::{ApiError, Client, Object};

/// The Clerk instance a secret key belongs to (`GET /v1/instance`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Instance {
    /// `ins_…`.
    pub id: String,
    /// `development` or `production` (or whatever Clerk adds).
    #[serde(default)]
    pub environment_type: Option<String>,
}

impl Client {
    /// `GET /v1/instance`: which instance this client's key reads.
    pub async fn instance(&self, deadline: Option<Instant>) -> Result<Instance, ApiError> {
        let path = "instance";
        let body = self.get(path, &[], deadline).await?;
        let instance: Instance =
            serde_json::from_slice(&body).map_err(|source| ApiError::Malformed {
                path: path.to_owned(),
                source,
            })?;
        if !is_instance_id(&instance.id) {
            return Err(ApiError::Malformed {
                path: path.to_owned(),
                source: serde::de::Error::custom("the instance id is not of Clerk's form"),
            });
        }
        Ok(instance)
    }

    /// `GET /v1/users/{id}`; `None` when Clerk has no such user.
    pub async fn user(
        &self,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Object>, ApiError> {
        self.object(&format!("users/{id}"), deadline).await
    }

    /// `GET /v1/organizations/{id}`; `None` when Clerk has no such organization.
    pub async fn organization(
        &self,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Object>, ApiError> {
        self.object(&format!("organizations/{id}"), deadline).await
    }

    /// Every membership of one organization, page by page (`GET
    /// /v1/organizations/{id}/memberships`), each page a turn of the budget; `None` when
    /// Clerk has no such organization.
    pub async fn memberships_of(
        &self,
        organization_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<Object>>, ApiError> {
        let mut pager = Pager::memberships_of(self, organization_id).until(deadline);
        read_whole(&mut pager).await
    }

    /// Every organization membership of one user (`GET
    /// /v1/users/{id}/organization_memberships`): a handful, read whole. `None` when Clerk
    /// has no such user.
    pub async fn memberships_of_user(
        &self,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<Object>>, ApiError> {
        let mut pager = Pager::memberships_of_user(self, user_id).until(deadline);
        read_whole(&mut pager).await
    }

    async fn object(
        &self,
        path: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Object>, ApiError> {
        let body = match self.get(path, &[], deadline).await {
            Ok(body) => body,
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        let malformed = |source| ApiError::Malformed {
            path: path.to_owned(),
            source,
        };
        let raw: Box<RawValue> = serde_json::from_slice(&body).map_err(malformed)?;
        Object::read(raw)
            .map(Some)
            .ok_or_else(|| malformed(serde::de::Error::custom("the object has no id")))
    }
}

/// Every page of a short list; `None` when what it lists is gone.
async fn read_whole(pager: &mut Pager<'_>) -> Result<Option<Vec<Object>>, ApiError> {
    let mut objects = Vec::new();
    loop {
        match pager.next_page().await {
            Ok(Some(page)) => objects.extend(page.objects),
            Ok(None) => return Ok(Some(objects)),
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error),
        }
    }
}

/// `ins_` and letters and digits: what `sync_instance` stores and `instance pin` takes.
pub fn is_instance_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .strip_prefix("ins_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_of_clerks_form() {
        assert!(is_instance_id("ins_2abcDEF123"));
        for bad in ["", "ins_", "ins_a b", "user_2abc", "ins_../x"] {
            assert!(!is_instance_id(bad), "{bad}");
        }
    }
}
