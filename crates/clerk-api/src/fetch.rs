//! Single objects by id: what the application API fetches when an object is not in the
//! database yet, or when asked to refresh it.

use serde_json::value::RawValue;

use crate::list::Pager;
use crate::{ApiError, Client, Object};

impl Client {
    /// `GET /v1/users/{id}`; `None` when Clerk has no such user (404).
    pub async fn user(&self, id: &str) -> Result<Option<Object>, ApiError> {
        self.object(&format!("users/{id}")).await
    }

    /// `GET /v1/organizations/{id}`; `None` when Clerk has no such organization (404).
    pub async fn organization(&self, id: &str) -> Result<Option<Object>, ApiError> {
        self.object(&format!("organizations/{id}")).await
    }

    /// Every membership of one organization, page by page (`GET
    /// /v1/organizations/{id}/memberships`); empty when the organization is gone.
    pub async fn memberships_of(&self, organization_id: &str) -> Result<Vec<Object>, ApiError> {
        let mut pager = Pager::memberships_of(self, organization_id);
        let mut objects = Vec::new();
        loop {
            match pager.next_page().await {
                Ok(Some(page)) => objects.extend(page.objects),
                Ok(None) => return Ok(objects),
                Err(ApiError::NotFound { .. }) => return Ok(objects),
                Err(error) => return Err(error),
            }
        }
    }

    /// Every organization membership of one user (`GET
    /// /v1/users/{id}/organization_memberships`): a handful, read whole. `None` when Clerk
    /// has no such user.
    pub async fn memberships_of_user(
        &self,
        user_id: &str,
    ) -> Result<Option<Vec<Object>>, ApiError> {
        let mut pager = Pager::memberships_of_user(self, user_id);
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

    async fn object(&self, path: &str) -> Result<Option<Object>, ApiError> {
        let body = match self.get(path, &[]).await {
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
